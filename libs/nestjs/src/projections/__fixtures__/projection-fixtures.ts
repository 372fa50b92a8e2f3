import { type INestApplication, Inject, type Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IsInt } from 'class-validator';
import {
  type CheckpointStore,
  Command,
  type CommandContext,
  type CommandLogic,
  type EventStore,
  type EventTypeDefinition,
  EventTypeRegistry,
  type ProjectionLock,
  type RecordedEvent,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { EventCoreModule } from '../../eventcore.module';
import { EventCoreHealthModule } from '../../health';
import type { ProjectionsModuleOptions } from '../../eventcore-module.options';
import { Projection } from '../projection.decorator';
import { ProjectionHost } from '../projection.host';

/** Test events: `Added` on `counter-*` streams, `Noted` on `other-*` streams. */
export type Added = { type: 'Added'; data: { n: number } };

/** Appends one `Added` to `counter-<id>` (or `other-<id>` with `prefix`). */
@Command()
export class Add implements CommandLogic<number, Added> {
  @Stream() stream: StreamId;
  @IsInt() n: number;

  constructor(id: string, n: number, prefix = 'counter-') {
    this.stream = streamId(`${prefix}${id}`);
    this.n = n;
  }

  initialState(): number {
    return 0;
  }

  apply(count: number): number {
    return count + 1;
  }

  handle(_count: number, ctx: CommandContext<Added, Add>): void {
    ctx.emit('stream', { type: 'Added', data: { n: this.n } });
  }
}

/** A read model shared by every app of a test (what a database would be across instances). */
export class SeenModel {
  /** Global positions in the order handled (duplicates kept, to detect them). */
  readonly positions: number[] = [];
  /** Sum of `n` per stream. */
  readonly sums = new Map<string, number>();
  resets = 0;
  lives = 0;

  apply(event: RecordedEvent): void {
    this.positions.push(event.globalPosition);
    const n = (event.data as { n: number }).n;
    this.sums.set(event.streamId, (this.sums.get(event.streamId) ?? 0) + n);
  }

  clear(): void {
    this.positions.length = 0;
    this.sums.clear();
    this.resets++;
  }
}

/** Injection token of the shared {@link SeenModel}. */
export const SEEN = 'TEST:SEEN';

/** Records every `counter-*` event into the shared model. */
@Projection({ name: 'counters', streams: ['counter-'], batchSize: 7, pollIntervalMs: 20 })
export class CountersProjection extends ProjectionHost {
  /** Set to make `handle` throw on that global position. */
  failOn: number | undefined;

  constructor(@Inject(SEEN) readonly model: SeenModel) {
    super();
  }

  handle(event: RecordedEvent): void {
    if (event.globalPosition === this.failOn) throw new Error(`cannot handle ${event.type}`);
    this.model.apply(event);
  }

  override reset(): void {
    this.model.clear();
  }

  override onLive(): void {
    this.model.lives++;
  }
}

/** What a fresh projection over the whole log would hold. */
export async function freshModel(store: EventStore, prefix = 'counter-'): Promise<SeenModel> {
  const model = new SeenModel();
  let page = await store.readAll({ limit: 10_000, filter: { streamPrefixes: [prefix] } });
  for (;;) {
    for (const event of page.events) model.apply(event);
    if (page.isEnd) return model;
    page = await store.readAll({
      after: page.next,
      limit: 10_000,
      filter: { streamPrefixes: [prefix] },
    });
  }
}

/** Options of {@link createTestApp}. */
export interface TestAppOptions {
  readonly store: EventStore;
  readonly model?: SeenModel;
  readonly providers?: Provider[];
  readonly checkpointStore?: CheckpointStore;
  readonly projectionLock?: ProjectionLock;
  readonly projections?: ProjectionsModuleOptions;
  /** Event types with schema versions and upcasters. */
  readonly events?: readonly EventTypeDefinition[];
}

/**
 * A real Nest application (initialised, not listening) with EventCore, the health module and the
 * given providers. The store is left open on close: tests share it between apps.
 */
export async function createTestApp(options: TestAppOptions): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      EventCoreModule.forRoot({
        eventStore: options.store,
        closeStoreOnShutdown: false,
        checkpointStore: options.checkpointStore,
        projectionLock: options.projectionLock,
        projections: { standbyRetryMs: 20, ...options.projections },
        events: options.events && new EventTypeRegistry(options.events),
      }),
      EventCoreHealthModule,
    ],
    providers: [
      { provide: SEEN, useValue: options.model ?? new SeenModel() },
      ...(options.providers ?? [CountersProjection]),
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

/**
 * Polls `check` until it returns true; fails with `what` after a generous deadline. Tests wait for
 * eventual conditions this way and never assert how long something took.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The position after the last event of the store. */
export async function headOf(store: EventStore) {
  let page = await store.readAll({ limit: 10_000 });
  while (!page.isEnd) page = await store.readAll({ after: page.next, limit: 10_000 });
  return page.next;
}
