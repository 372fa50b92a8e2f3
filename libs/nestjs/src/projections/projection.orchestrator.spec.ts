import { type INestApplication, Inject, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InMemoryCheckpointStore,
  InMemoryEventStore,
  type RecordedEvent,
  StoreClosedError,
} from '@eventcore/core';
import { CommandBus } from '../command-bus';
import { EventCoreModule } from '../eventcore.module';
import {
  Add,
  CountersProjection,
  SEEN,
  SeenModel,
  createTestApp,
  eventually,
  freshModel,
  headOf,
} from './__fixtures__/projection-fixtures';
import { Projection } from './projection.decorator';
import { ProjectionHost } from './projection.host';
import { ProjectionRegistry } from './projection.registry';
import { ProjectionsHealthIndicator } from './projections.health';

const FAST_RETRIES = { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 } };

@Projection({
  name: 'faulting',
  streams: ['counter-'],
  pollIntervalMs: 20,
  errorPolicy: FAST_RETRIES,
})
class FaultingProjection extends CountersProjection {}

@Projection({
  name: 'lettering',
  streams: ['counter-'],
  pollIntervalMs: 20,
  errorPolicy: { ...FAST_RETRIES, onFailure: 'dead-letter' },
})
class DeadLetteringProjection extends CountersProjection {}

/** Sequential writes per stream; the streams run concurrently. */
async function runCommands(bus: CommandBus, count: number, streams = 10): Promise<void> {
  await Promise.all(
    Array.from({ length: streams }, async (_, s) => {
      for (let i = s; i < count; i += streams) await bus.execute(new Add(`s${s}`, i + 1));
    }),
  );
}

async function reachHead(app: INestApplication, store: InMemoryEventStore): Promise<void> {
  await app.get(ProjectionRegistry).waitFor(await headOf(store), { timeoutMs: 20_000 });
}

describe('projection workers', () => {
  let store: InMemoryEventStore;
  let model: SeenModel;
  let app: INestApplication | undefined;

  beforeEach(() => {
    store = new InMemoryEventStore();
    model = new SeenModel();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('catches up, then follows live: every event once, in log order, with 500 concurrent commands', async () => {
    const executor = await createTestApp({ store, providers: [] });
    await runCommands(executor.get(CommandBus), 200);
    await executor.get(CommandBus).execute(new Add('x', 1, 'other-')); // filtered out
    await executor.close();

    app = await createTestApp({ store, model });
    const writing = runCommands(app.get(CommandBus), 500);
    await writing;
    await reachHead(app, store);

    const expected = await freshModel(store);
    expect(expected.positions).toHaveLength(700);
    expect(model.positions).toEqual(expected.positions);
    expect(model.sums).toEqual(expected.sums);
    expect(app.get(ProjectionRegistry).get('counters')).toMatchObject({
      state: 'live',
      handledEvents: 700,
      lagEvents: 0,
      lastError: null,
    });
    expect(model.lives).toBeGreaterThanOrEqual(1);
  });

  it('pauses, resumes and rebuilds', async () => {
    app = await createTestApp({ store, model });
    const registry = app.get(ProjectionRegistry);
    const bus = app.get(CommandBus);
    await bus.execute(new Add('a', 1));
    await reachHead(app, store);

    registry.pause('counters');
    await eventually(() => registry.get('counters').state === 'paused', 'paused');
    await bus.execute(new Add('a', 2));
    await expect(registry.waitFor(await headOf(store), { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'eventcore.projection_wait_timeout',
    });
    expect(model.sums.get('counter-a')).toBe(1);

    registry.resume('counters');
    await reachHead(app, store);
    expect(model.sums.get('counter-a')).toBe(3);

    await registry.rebuild('counters');
    expect(model.resets).toBe(1);
    await reachHead(app, store);
    expect(model.positions).toEqual((await freshModel(store)).positions);
  });

  it('a rebuild while commands keep arriving ends equal to a fresh projection over the final log', async () => {
    app = await createTestApp({ store, model });
    const registry = app.get(ProjectionRegistry);
    const bus = app.get(CommandBus);
    await runCommands(bus, 100);
    const writing = runCommands(bus, 300);
    await eventually(() => model.positions.length > 150, 'the projection made progress');
    await registry.rebuild('counters');
    await writing;
    await reachHead(app, store);

    const expected = await freshModel(store);
    expect(model.resets).toBe(1);
    expect(model.positions).toEqual(expected.positions);
    expect(model.sums).toEqual(expected.sums);
  });

  it('retries a failing event, then faults; health is down until resumed after the fix', async () => {
    app = await createTestApp({ store, model, providers: [FaultingProjection] });
    const registry = app.get(ProjectionRegistry);
    const health = app.get(ProjectionsHealthIndicator);
    const projection = app.get(FaultingProjection);
    const bus = app.get(CommandBus);
    projection.failOn = 2;
    await bus.execute(new Add('a', 1));
    await bus.execute(new Add('a', 10));
    await bus.execute(new Add('a', 100));

    await eventually(() => registry.get('faulting').state === 'faulted', 'faulted');
    expect(registry.get('faulting').lastError).toBe('cannot handle Added');
    expect(health.isHealthy('projections')).toMatchObject({
      projections: {
        status: 'down',
        problems: ['faulting is faulted'],
        projections: { faulting: { state: 'faulted', lastError: 'cannot handle Added' } },
      },
    });

    projection.failOn = undefined;
    registry.resume('faulting');
    await reachHead(app, store);
    expect(health.isHealthy('projections')).toMatchObject({ projections: { status: 'up' } });
    expect(new Set(model.positions)).toEqual(new Set((await freshModel(store)).positions));
  });

  it("with 'dead-letter', records the failing event and handles the later ones", async () => {
    app = await createTestApp({ store, model, providers: [DeadLetteringProjection] });
    const registry = app.get(ProjectionRegistry);
    const bus = app.get(CommandBus);
    app.get(DeadLetteringProjection).failOn = 2;
    await bus.execute(new Add('a', 1));
    const bad = await bus.execute(new Add('b', 10));
    await bus.execute(new Add('a', 100));
    await reachHead(app, store);

    expect(bad.events[0]!.globalPosition).toBe(2);
    // Events 1 and 3 may share a batch with 2, and the in-memory checkpoint store is at-least-once:
    // a retried batch applies 1 again. What counts is which events got through.
    expect(new Set(model.positions)).toEqual(new Set([1, 3]));
    expect(model.sums.has('counter-b')).toBe(false);
    const letters = await registry.deadLetters('lettering');
    expect(letters).toEqual([
      expect.objectContaining({
        projection: 'lettering',
        eventId: bad.events[0]!.id,
        streamId: 'counter-b',
        error: 'cannot handle Added',
      }),
    ]);
    expect(registry.get('lettering')).toMatchObject({ state: 'live', deadLetters: 1 });
  });

  it('does not start projections when autoStart is false, until started through the registry', async () => {
    app = await createTestApp({ store, model, projections: { autoStart: false } });
    const registry = app.get(ProjectionRegistry);
    await app.get(CommandBus).execute(new Add('a', 1));
    expect(registry.get('counters').state).toBe('stopped');
    registry.start('counters');
    await reachHead(app, store);
    expect(model.sums.get('counter-a')).toBe(1);
  });

  it('stops the workers before the module closes the store', async () => {
    const seen: string[] = [];
    @Projection({ name: 'slow', pollIntervalMs: 20 })
    class SlowProjection extends ProjectionHost {
      constructor(@Inject(SEEN) readonly shared: SeenModel) {
        super();
      }
      async handle(event: RecordedEvent): Promise<void> {
        seen.push(event.id);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const checkpoints = new InMemoryCheckpointStore();
    const moduleRef = await Test.createTestingModule({
      imports: [EventCoreModule.forRoot({ eventStore: store, checkpointStore: checkpoints })],
      providers: [{ provide: SEEN, useValue: model }, SlowProjection],
    }).compile();
    const own = moduleRef.createNestApplication({ logger: false });
    await own.init();
    const logged = jest.spyOn(Logger.prototype, 'error');
    await own.get(CommandBus).execute(new Add('a', 1));
    await eventually(() => seen.length === 1, 'the slow handler started');
    await own.close();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreClosedError);
    // The batch in flight committed before the store went away: nothing was reported as failed.
    expect(own.get(ProjectionRegistry).get('slow')).toMatchObject({
      state: 'stopped',
      lastError: null,
    });
    expect(await checkpoints.load('slow')).toBe('1');
    expect(logged).not.toHaveBeenCalled();
    logged.mockRestore();
  });
});
