import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpectedVersion, InMemoryEventStore, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { EventCoreModule, ProjectionRegistry } from '@eventcore/nestjs';
import { connect, type NatsConnection } from 'nats';
import {
  deleteStreams,
  describeWithNats,
  eventually,
  NATS_URL,
  uniqueName,
} from './__fixtures__/nats-testing';
import { EventCoreNatsModule } from './eventcore-nats.module';
import { NatsForwarder } from './nats-forwarder';

/*
 * The forwarder under the projection controls every projection has, through ProjectionRegistry
 * under its name (the in-memory store: what is tested here is the wiring, not PostgreSQL).
 */
describeWithNats('NATS forwarder under projection control', () => {
  let nc: NatsConnection;
  let app: INestApplicationContext;
  let stream: string;
  const store = new InMemoryEventStore();

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    stream = uniqueName('EVENTCORE_TEST');
    app = await NestFactory.createApplicationContext(
      {
        module: class ControlTestModule {},
        imports: [
          EventCoreModule.forRoot({ eventStore: store }),
          EventCoreNatsModule.forRoot({
            servers: NATS_URL,
            stream,
            subjectPrefix: `test.${stream}`,
            name: 'to-nats',
          }),
        ],
      },
      { logger: ['error'] },
    );
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await deleteStreams(nc, stream);
    await nc.close();
  });

  async function messages(): Promise<number> {
    const jsm = await nc.jetstreamManager();
    return (await jsm.streams.info(stream)).state.messages;
  }

  async function append(): Promise<void> {
    await store.append([
      { streamId: streamId('account-1'), expected: ExpectedVersion.any, events: [testEvent('A')] },
    ]);
  }

  it('is listed, paused and resumed like a projection; paused, it publishes nothing', async () => {
    const registry = app.get(ProjectionRegistry);
    expect(registry.names()).toContain('to-nats');
    await append();
    await eventually(() => registry.get('to-nats').handledEvents === 1);
    expect(await messages()).toBe(1);

    expect(await registry.pause('to-nats')).toMatchObject({ state: 'paused' });
    await append();
    await append();
    await eventually(() => registry.get('to-nats').lagEvents === 2, 10_000, 'lag while paused');
    expect(await messages()).toBe(1);

    await registry.resume('to-nats');
    await eventually(() => registry.get('to-nats').handledEvents === 3);
    expect(await messages()).toBe(3);
    expect(registry.get('to-nats')).toMatchObject({ state: 'live', lagEvents: 0 });
    expect(app.get(NatsForwarder).stats()).toMatchObject({ published: 3, duplicates: 0 });
  });
});
