/*
 * A scratch Nest app that uses the packed @eventcore packages the way a new user's app does:
 * `test/consumer.e2e-spec.ts` copies it into an empty folder outside the repository, installs the
 * tarballs and their peers there, type-checks it, runs it and calls it over HTTP. It must import
 * only package names, never a path into this repository.
 */
import 'reflect-metadata';
import { Body, Controller, Get, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { IsInt, Matches } from 'class-validator';
import {
  Boundary,
  Command,
  type CommandContext,
  type CommandLogic,
  item,
  query,
  type RecordedEvent,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import {
  CommandBus,
  EventCoreExceptionFilter,
  EventCoreHealthModule,
  EventCoreModule,
  eventCoreValidationPipe,
  EventStoreHealthIndicator,
  Projection,
  ProjectionHost,
  ProjectionRegistry,
} from '@eventcore/nestjs';
import { EventCoreNatsModule, eventSubject, streamCategory } from '@eventcore/nats';
import { createPostgresStorage } from '@eventcore/postgres';

type CounterEvent = { type: 'Added'; data: { amount: number } };

/** Adds to a counter; a counter never passes 100. */
@Command()
export class Add implements CommandLogic<number, CounterEvent> {
  @Stream() counter: StreamId;
  @IsInt() amount: number;

  constructor(counter: StreamId, amount: number) {
    this.counter = counter;
    this.amount = amount;
  }

  initialState(): number {
    return 0;
  }

  apply(total: number, event: RecordedEvent<CounterEvent>): number {
    return total + event.data.amount;
  }

  handle(total: number, ctx: CommandContext<CounterEvent, Add>): void {
    ctx.require(total + this.amount <= 100, 'a counter stops at 100', 'counter.limit');
    ctx.emit('counter', { type: 'Added', data: { amount: this.amount } });
  }
}

type NameEvent = { type: 'NameClaimed'; data: { name: string } };

/** Claims a name once (a DCB boundary query: no stream per name). */
@Command()
export class ClaimName implements CommandLogic<boolean, NameEvent> {
  @Matches(/^[a-z]{1,20}$/) name: string;

  constructor(name: string) {
    this.name = name;
  }

  @Boundary()
  boundary() {
    return query(item({ types: ['NameClaimed'], tags: [`name:${this.name}`] }));
  }

  initialState(): boolean {
    return false;
  }

  apply(): boolean {
    return true;
  }

  handle(taken: boolean, ctx: CommandContext<NameEvent, ClaimName>): void {
    ctx.require(!taken, `${this.name} is taken`, 'name.taken');
    ctx.append({ type: 'NameClaimed', data: { name: this.name }, tags: [`name:${this.name}`] });
  }
}

/** Totals per counter, in memory. */
@Projection({ name: 'totals', streams: ['counter-'] })
export class Totals extends ProjectionHost {
  private readonly totals = new Map<string, number>();

  get(counter: string): number {
    return this.totals.get(counter) ?? 0;
  }

  handle(event: RecordedEvent<CounterEvent>): void {
    this.totals.set(event.streamId, this.get(event.streamId) + event.data.amount);
  }
}

export class AddBody {
  @IsInt() amount!: number;
}

@Controller('counters')
export class CountersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly projections: ProjectionRegistry,
    private readonly totals: Totals,
  ) {}

  /** Adds, then waits until the projection has seen it (read-your-writes) and answers its total. */
  @Post(':id')
  async add(@Param('id') id: string, @Body() body: AddBody) {
    const counter = streamId(`counter-${id}`);
    const result = await this.commands.execute(new Add(counter, body.amount));
    await this.projections.waitFor(result.position, { projections: ['totals'] });
    return { position: result.position, total: this.totals.get(counter) };
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return { total: this.totals.get(`counter-${id}`) };
  }
}

@Controller('names')
export class NamesController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':name')
  async claim(@Param('name') name: string) {
    const result = await this.commands.execute(new ClaimName(name));
    return { tags: result.events[0]?.tags };
  }
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly eventStore: EventStoreHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.eventStore.isHealthy('eventStore')]);
  }
}

/** The NATS subject the forwarder would publish an event of this stream and type on. */
@Controller('subjects')
class SubjectsController {
  @Get(':streamId/:type')
  subject(@Param('streamId') id: string, @Param('type') type: string) {
    return {
      subject: eventSubject('app', { tenant: 'default', category: streamCategory(id), type }),
    };
  }
}

@Module({
  imports: [
    EventCoreModule.forRootAsync({
      useFactory: async () => {
        // A PostgreSQL server when DATABASE_URL is set, else embedded PGlite in DATA_DIR.
        const url = process.env.DATABASE_URL;
        const storage = await createPostgresStorage(
          url ? { connectionString: url } : { dataDir: process.env.DATA_DIR ?? './data' },
        );
        return {
          eventStore: storage.eventStore,
          checkpointStore: storage.checkpointStore,
          projectionLock: storage.projectionLock,
          afterShutdown: () => storage.close(),
        };
      },
    }),
    TerminusModule,
    EventCoreHealthModule,
    // The log fanned out to NATS JetStream when NATS_URL is set.
    ...(process.env.NATS_URL
      ? [
          EventCoreNatsModule.forRoot({
            servers: process.env.NATS_URL,
            stream: 'CONSUMER_APP',
            subjectPrefix: 'app',
          }),
        ]
      : []),
  ],
  providers: [Totals],
  controllers: [CountersController, NamesController, HealthController, SubjectsController],
})
export class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.useGlobalPipes(eventCoreValidationPipe());
  app.useGlobalFilters(new EventCoreExceptionFilter());
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  console.log(`LISTENING ${await app.getUrl()}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
