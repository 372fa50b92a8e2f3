import { Inject, Logger, Scope } from '@nestjs/common';
import {
  ErrorCodes,
  ExpectedVersion,
  InMemoryEventStore,
  type RecordedEvent,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { CommandBus } from '../command-bus';
import {
  Add,
  CountersProjection,
  SEEN,
  SeenModel,
  createTestApp,
  eventually,
} from './__fixtures__/projection-fixtures';
import { Projection } from './projection.decorator';
import { ProjectionHost } from './projection.host';
import { ProjectionRegistry } from './projection.registry';

@Projection({ name: 'not-a-host' })
class NotAHost {
  handle(): void {}
}

@Projection({ name: 'long-window', batchWindowMs: 5_000 })
class LongWindowProjection extends ProjectionHost {
  handle(): void {}
}

@Projection({ name: 'per-request' })
class PerRequestProjection extends ProjectionHost {
  handle(): void {}
}

@Projection({ name: 'per-consumer' })
class TransientProjection extends ProjectionHost {
  handle(): void {}
}

@Projection({ name: 'counters' })
class SameNameProjection extends ProjectionHost {
  constructor(@Inject(SEEN) readonly model: SeenModel) {
    super();
  }
  handle(event: RecordedEvent): void {
    this.model.apply(event);
  }
}

/** Receives only the events of streams that are not archived. */
@Projection({ name: 'live-streams', includeArchived: false, pollIntervalMs: 20 })
class LiveStreamsProjection extends ProjectionHost {
  readonly seen: string[] = [];
  handle(event: RecordedEvent): void {
    this.seen.push(event.streamId);
  }
}

@Projection({ name: 'bad-archived', includeArchived: 'no' as unknown as boolean })
class BadArchivedOption extends ProjectionHost {
  handle(): void {}
}

describe('projection discovery', () => {
  afterEach(() => jest.restoreAllMocks());

  it('finds a @Projection provider and runs it', async () => {
    const store = new InMemoryEventStore();
    const model = new SeenModel();
    const app = await createTestApp({ store, model });
    try {
      expect(app.get(ProjectionRegistry).names()).toEqual(['counters']);
      await app.get(CommandBus).execute(new Add('a', 5));
      await eventually(() => model.sums.get('counter-a') === 5, 'the projection saw the event');
    } finally {
      await app.close();
    }
    expect(app.get(ProjectionRegistry).get('counters').state).toBe('stopped');
  });

  it('leaves archived streams out of a projection with includeArchived: false, and only that one', async () => {
    const store = new InMemoryEventStore();
    const write = (id: string) =>
      store.append([
        {
          streamId: streamId(id),
          expected: ExpectedVersion.any,
          events: [testEvent('Added', { n: 1 })],
        },
      ]);
    await write('counter-closed');
    await store.archiveStream(streamId('counter-closed'));
    await write('counter-open');
    const model = new SeenModel();
    const app = await createTestApp({
      store,
      model,
      providers: [CountersProjection, LiveStreamsProjection],
    });
    try {
      const head = (await store.readAll({ limit: 10 })).next;
      await app.get(ProjectionRegistry).waitFor(head, { timeoutMs: 20_000 });
      expect(app.get(LiveStreamsProjection).seen).toEqual(['counter-open']);
      expect([...model.sums.keys()]).toEqual(['counter-closed', 'counter-open']);
    } finally {
      await app.close();
    }
  });

  it('refuses an includeArchived that is not a boolean at startup', async () => {
    const starting = createTestApp({
      store: new InMemoryEventStore(),
      providers: [BadArchivedOption],
    });
    await expect(starting).rejects.toMatchObject({
      code: ErrorCodes.invalidProjection,
      message: expect.stringContaining('includeArchived must be true or false'),
    });
  });

  it('fails at startup naming a decorated class that does not extend ProjectionHost', async () => {
    const starting = createTestApp({ store: new InMemoryEventStore(), providers: [NotAHost] });
    await expect(starting).rejects.toMatchObject({
      code: ErrorCodes.invalidProjection,
      message: expect.stringContaining('NotAHost'),
    });
  });

  it('hands the batching window to the worker, which refuses one out of range at startup', async () => {
    const starting = createTestApp({
      store: new InMemoryEventStore(),
      providers: [LongWindowProjection],
    });
    await expect(starting).rejects.toMatchObject({
      code: ErrorCodes.invalidProjection,
      message: expect.stringContaining('batchWindowMs must be a number of milliseconds'),
    });
  });

  it('skips request-scoped and transient projections with a warning', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const app = await createTestApp({
      store: new InMemoryEventStore(),
      providers: [
        CountersProjection,
        { provide: PerRequestProjection, useClass: PerRequestProjection, scope: Scope.REQUEST },
        { provide: TransientProjection, useClass: TransientProjection, scope: Scope.TRANSIENT },
      ],
    });
    try {
      expect(app.get(ProjectionRegistry).names()).toEqual(['counters']);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('PerRequestProjection'));
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('TransientProjection'));
    } finally {
      await app.close();
    }
  });

  it('refuses two projections with one name, naming both classes', async () => {
    const starting = createTestApp({
      store: new InMemoryEventStore(),
      providers: [CountersProjection, SameNameProjection],
    });
    await expect(starting).rejects.toMatchObject({
      code: ErrorCodes.invalidProjection,
      message: expect.stringMatching(
        /CountersProjection.*SameNameProjection|SameNameProjection.*CountersProjection/,
      ),
    });
  });

  it('does not count a useExisting alias as a second projection', async () => {
    const app = await createTestApp({
      store: new InMemoryEventStore(),
      providers: [CountersProjection, { provide: 'ALIAS', useExisting: CountersProjection }],
    });
    try {
      expect(app.get(ProjectionRegistry).names()).toEqual(['counters']);
    } finally {
      await app.close();
    }
  });
});
