import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventCoreModule, ProjectionRegistry } from '@eventcore/nestjs';
import { createPostgresStorage, type PostgresStorage } from '@eventcore/postgres';
import { EventCoreNatsModule } from '../eventcore-nats.module';
import { NatsForwarder } from '../nats-forwarder';
import type { NatsForwarderOptions } from '../nats-forwarder.options';

/** A Nest application with EventCoreModule on PostgreSQL and a NATS forwarder, as a user wires it. */
export interface ForwarderApp {
  readonly app: INestApplicationContext;
  readonly storage: PostgresStorage;
  readonly forwarder: NatsForwarder;
  readonly registry: ProjectionRegistry;
  close(): Promise<void>;
}

export async function startForwarderApp(
  databaseUrl: string,
  options: NatsForwarderOptions,
): Promise<ForwarderApp> {
  const storage = await createPostgresStorage({ connectionString: databaseUrl });
  const app = await NestFactory.createApplicationContext(
    {
      module: class ForwarderAppModule {},
      imports: [
        EventCoreModule.forRoot({
          eventStore: storage.eventStore,
          checkpointStore: storage.checkpointStore,
          projectionLock: storage.projectionLock,
          afterShutdown: () => storage.close(),
        }),
        EventCoreNatsModule.forRoot(options),
      ],
    },
    { logger: ['error'] },
  );
  app.enableShutdownHooks();
  await app.init();
  return {
    app,
    storage,
    forwarder: app.get(NatsForwarder),
    registry: app.get(ProjectionRegistry),
    close: () => app.close(),
  };
}
