import { testEvent } from '@eventcore/core/testing';
import { ErrorCodes } from '../errors';
import type { RecordedEvent } from '../events/event';
import { EventTypeRegistry } from '../events/event-type-registry';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import type { ReadAllOptions, ReadAllPage } from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import { streamId } from '../store/stream-id';
import { InMemoryCheckpointStore } from './checkpoint-store';
import { InMemoryProjectionLock } from './projection-lock';
import { ProjectionWorker } from './projection-worker';
import type { ProjectionDefinition, ProjectionHandler } from './projection.types';

/** Polls `condition` until it holds (or fails the test after 5 s); eventual conditions only. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

class Recorder implements ProjectionHandler {
  readonly seen: RecordedEvent[] = [];
  resets = 0;
  lives = 0;
  failOn: ((event: RecordedEvent) => boolean) | undefined;
  handle(event: RecordedEvent): void {
    if (this.failOn?.(event)) throw new Error(`cannot handle ${event.type}`);
    this.seen.push(event);
  }
  reset(): void {
    this.resets++;
    this.seen.length = 0;
  }
  onLive(): void {
    this.lives++;
  }
  /**
   * The events seen, each once, in first-seen order. The in-memory checkpoint store is not
   * transactional, so a failed batch's first events may be handled again (at-least-once).
   */
  unique(): RecordedEvent[] {
    return [...new Map(this.seen.map((e) => [e.id, e])).values()];
  }
}

async function appendMany(
  store: InMemoryEventStore,
  stream: string,
  count: number,
  type = 'Happened',
) {
  for (let i = 0; i < count; i++) {
    await store.append([
      {
        streamId: streamId(stream),
        expected: ExpectedVersion.any,
        events: [testEvent(type, { i })],
      },
    ]);
  }
}

describe('ProjectionWorker', () => {
  let store: InMemoryEventStore;
  let checkpoints: InMemoryCheckpointStore;
  let lock: InMemoryProjectionLock;
  const workers: ProjectionWorker[] = [];

  const startWorker = (
    handler: ProjectionHandler,
    definition: Partial<ProjectionDefinition> = {},
  ) => {
    const worker = new ProjectionWorker(
      {
        name: 'p',
        batchSize: 50,
        pollIntervalMs: 20,
        errorPolicy: { retry: { initialDelayMs: 1, maxAttempts: 3 } },
        ...definition,
      },
      handler,
      { store, checkpoints, lock, standbyRetryMs: 10 },
    );
    workers.push(worker);
    worker.start();
    return worker;
  };

  beforeEach(() => {
    store = new InMemoryEventStore();
    checkpoints = new InMemoryCheckpointStore();
    lock = new InMemoryProjectionLock();
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });

  it('catches up, goes live, and sees every event exactly once in log order while appends continue', async () => {
    await appendMany(store, 'a-1', 120);
    const recorder = new Recorder();
    const worker = startWorker(recorder);
    await Promise.all([appendMany(store, 'a-2', 150), appendMany(store, 'a-3', 130)]);
    await until(() => recorder.seen.length === 400, '400 events');
    const all = (await store.readAll({ limit: 1000 })).events;
    expect(recorder.seen.map((e) => e.id)).toEqual(all.map((e) => e.id));
    await until(() => worker.status().state === 'live', 'live');
    expect(recorder.lives).toBeGreaterThanOrEqual(1);
    expect(worker.status()).toMatchObject({ lagEvents: 0, handledEvents: 400, lastError: null });
  });

  it('is woken by appends instead of waiting for the next poll', async () => {
    const recorder = new Recorder();
    const worker = startWorker(recorder, { pollIntervalMs: 60_000 });
    await until(() => worker.status().state === 'live', 'live');
    await appendMany(store, 'a-1', 1);
    await until(() => recorder.seen.length === 1, 'the event, well before the 60 s poll');
  });

  it('shows lag growing while a batch hangs (an outage downstream), not frozen at its start', async () => {
    let release: () => void = () => undefined;
    const hanging = new Promise<void>((resolve) => (release = resolve));
    const handled: RecordedEvent[] = [];
    const worker = startWorker({
      async handle(event) {
        await hanging; // a publish waiting on a broker that is down
        handled.push(event);
      },
    });
    await until(() => worker.status().state === 'live', 'live');
    await appendMany(store, 'a-1', 1);
    await until(() => worker.status().lagEvents === 1, 'the waiting event counted');
    const early = worker.status().lagSeconds;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(worker.status().lagSeconds).toBeGreaterThan(early);
    release();
    await until(() => handled.length === 1 && worker.status().lagEvents === 0, 'caught up');
    expect(worker.status().lagSeconds).toBe(0);
  });

  it('delivers only events matching the filter and checkpoints past the others', async () => {
    await appendMany(store, 'account-1', 3);
    await appendMany(store, 'order-1', 5);
    await appendMany(store, 'account-2', 2, 'Other');
    const recorder = new Recorder();
    const worker = startWorker(recorder, {
      filter: { streamPrefixes: ['account-'], eventTypes: ['Happened'] },
    });
    await until(() => worker.status().state === 'live', 'live');
    expect(recorder.seen.map((e) => e.streamId)).toEqual(['account-1', 'account-1', 'account-1']);
    expect(await checkpoints.load('p')).toBe('10');
  });

  it('resumes from its durable checkpoint after a restart without handling anything twice', async () => {
    await appendMany(store, 'a-1', 70);
    const first = new Recorder();
    const worker = startWorker(first);
    await until(() => worker.status().state === 'live', 'live');
    await worker.stop();
    await appendMany(store, 'a-1', 30);
    const second = new Recorder();
    startWorker(second);
    await until(() => second.seen.length === 30, 'the 30 new events');
    expect(second.seen[0]!.streamVersion).toBe(71);
    expect(first.seen).toHaveLength(70);
  });

  it('retries a failing event, then stops as faulted, and continues after resume', async () => {
    await appendMany(store, 'a-1', 10);
    const recorder = new Recorder();
    let attempts = 0;
    recorder.failOn = (e) => e.streamVersion === 6 && ++attempts > 0;
    const worker = startWorker(recorder);
    await until(() => worker.status().state === 'faulted', 'faulted');
    expect(worker.status().lastError).toBe('cannot handle Happened');
    // Batch tried 1 + 2 times, then the event alone 1 + 2 times.
    expect(attempts).toBe(6);
    expect(recorder.unique().map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5]);
    await appendMany(store, 'a-1', 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(recorder.unique()).toHaveLength(5);

    recorder.failOn = undefined;
    worker.resume();
    await until(() => recorder.unique().length === 12, 'all 12 after resume');
    expect(recorder.unique().map((e) => e.streamVersion)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ]);
  });

  it('spaces retries by their backoff while appends keep waking the worker', async () => {
    await appendMany(store, 'a-1', 1, 'Flaky');
    // A brief outage of the read model: the handler fails for 300 ms from its first try.
    const tries: number[] = [];
    const recorder = new Recorder();
    recorder.failOn = (e) => {
      if (e.type !== 'Flaky') return false;
      tries.push(performance.now());
      return performance.now() - tries[0]! < 300;
    };
    // The default policy (3 retries from 100 ms), dead-lettering after the last.
    const worker = startWorker(recorder, { errorPolicy: { onFailure: 'dead-letter' } });
    let appending = true;
    const appender = (async () => {
      while (appending) {
        await appendMany(store, 'a-2', 1);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await until(
        () => recorder.seen.some((e) => e.type === 'Flaky') || worker.status().deadLetters > 0,
        'the flaky event handled or given up on',
      );
    } finally {
      appending = false;
      await appender;
    }
    expect(await checkpoints.deadLetters('p')).toEqual([]);
    expect(recorder.seen.filter((e) => e.type === 'Flaky')).toHaveLength(1);
    expect(tries.length).toBeGreaterThanOrEqual(2);
    // Each wait at least its configured delay (100, 200, 400 ms); timers may fire a tick early.
    tries.slice(1).forEach((at, i) => {
      expect(at - tries[i]!).toBeGreaterThanOrEqual(100 * 2 ** i - 2);
    });
  });

  it('dead-letters an event it cannot handle and goes on with the next ones', async () => {
    await appendMany(store, 'a-1', 8);
    const recorder = new Recorder();
    recorder.failOn = (e) => e.streamVersion === 3;
    const worker = startWorker(recorder, {
      errorPolicy: { onFailure: 'dead-letter', retry: { initialDelayMs: 1, maxAttempts: 2 } },
    });
    await until(() => recorder.unique().length === 7, 'the 7 other events');
    expect(recorder.unique().map((e) => e.streamVersion)).toEqual([1, 2, 4, 5, 6, 7, 8]);
    const letters = await checkpoints.deadLetters('p');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      streamId: 'a-1',
      eventType: 'Happened',
      error: 'cannot handle Happened',
    });
    expect(worker.status().deadLetters).toBe(1);
  });

  it('pauses after the batch in flight and resumes where it was', async () => {
    const recorder = new Recorder();
    const worker = startWorker(recorder);
    await until(() => worker.status().state === 'live', 'live');
    worker.pause();
    await until(() => worker.status().state === 'paused', 'paused');
    await appendMany(store, 'a-1', 5);
    await new Promise((r) => setTimeout(r, 60));
    expect(recorder.seen).toHaveLength(0);
    worker.resume();
    await until(() => recorder.seen.length === 5, 'the 5 events');
  });

  it('rebuilds from zero while appends continue and ends equal to a fresh projection', async () => {
    await appendMany(store, 'a-1', 100);
    const recorder = new Recorder();
    const worker = startWorker(recorder);
    await until(() => recorder.seen.length === 100, '100 events');
    const appending = appendMany(store, 'a-2', 100);
    await worker.rebuild();
    expect(recorder.resets).toBe(1);
    await appending;
    await until(
      () => recorder.seen.length === 200 && worker.status().state === 'live',
      'the rebuilt 200',
    );
    const fresh = (await store.readAll({ limit: 1000 })).events.map((e) => e.id);
    expect(recorder.seen.map((e) => e.id)).toEqual(fresh);
  });

  it('runs setup once per run before the first event, and again after a rebuild reset', async () => {
    await appendMany(store, 'a-1', 3);
    const steps: string[] = [];
    const handler: ProjectionHandler = {
      setup: () => void steps.push('setup'),
      reset: () => void steps.push('reset'),
      handle: (e) => void steps.push(`handle ${e.streamVersion}`),
    };
    const worker = startWorker(handler);
    await until(() => worker.status().state === 'live', 'live');
    expect(steps).toEqual(['setup', 'handle 1', 'handle 2', 'handle 3']);
    steps.length = 0;
    await worker.rebuild();
    await until(() => worker.status().state === 'live', 'live again');
    expect(steps).toEqual(['reset', 'setup', 'handle 1', 'handle 2', 'handle 3']);
  });

  it('faults with a ProjectionSetupError when setup keeps failing, handles nothing, and retries it on resume', async () => {
    await appendMany(store, 'a-1', 2);
    let broken = true;
    const recorder = new Recorder();
    const handler: ProjectionHandler = {
      setup: () => {
        if (broken) throw new Error('permission denied for schema bank');
      },
      handle: (e) => recorder.handle(e),
    };
    const errors: unknown[] = [];
    const worker = new ProjectionWorker(
      {
        name: 'p',
        pollIntervalMs: 20,
        errorPolicy: { retry: { initialDelayMs: 1, maxAttempts: 3 } },
      },
      handler,
      { store, checkpoints, lock, onError: (_name, error) => errors.push(error) },
    );
    workers.push(worker);
    worker.start();
    await until(() => worker.status().state === 'faulted', 'faulted');
    expect(recorder.seen).toHaveLength(0);
    expect(worker.status().lastError).toBe(
      'The setup step of projection "p" failed: permission denied for schema bank. The projection is faulted and handled no event; fix the setup (its SQL, the database\'s permissions) and resume the projection, or restart.',
    );
    expect(errors.at(-1)).toMatchObject({ code: ErrorCodes.projectionSetupFailed });
    broken = false;
    await worker.resume();
    await until(() => recorder.seen.length === 2, 'the events after the repaired setup');
  });

  it('runs on one worker per lock; another takes over from the checkpoint when the lease is lost', async () => {
    await appendMany(store, 'a-1', 60);
    const shared: RecordedEvent[] = [];
    const handlerOf = (): ProjectionHandler => ({ handle: (e) => void shared.push(e) });
    const one = startWorker(handlerOf());
    await until(() => one.status().state === 'live', 'first live');
    const two = startWorker(handlerOf());
    await until(() => two.status().state === 'standby', 'second on standby');
    expect(shared).toHaveLength(60);

    lock.revoke('p');
    await appendMany(store, 'a-1', 40);
    await until(() => shared.length >= 100, 'all 100 events');
    await new Promise((r) => setTimeout(r, 60));
    expect(new Set(shared.map((e) => e.id)).size).toBe(100);
    expect(shared).toHaveLength(100);
  });

  it('never moves a checkpoint another instance has moved (fencing)', async () => {
    await appendMany(store, 'a-1', 5);
    await checkpoints.commit('p', undefined, '3' as never, async () => undefined);
    await expect(
      checkpoints.commit('p', undefined, '5' as never, async () => undefined),
    ).rejects.toMatchObject({
      code: ErrorCodes.checkpointMoved,
    });
    expect(await checkpoints.load('p')).toBe('3');
  });

  it('resolves waitFor once the checkpoint passes a command position', async () => {
    const recorder = new Recorder();
    const worker = startWorker(recorder);
    const { position } = await store.append([
      {
        streamId: streamId('a-1'),
        expected: ExpectedVersion.any,
        events: [testEvent('X'), testEvent('Y')],
      },
    ]);
    await worker.waitFor(position);
    expect(recorder.seen.map((e) => e.type)).toEqual(['X', 'Y']);
  });

  it('refuses an invalid definition with a clear error', () => {
    expect(
      () =>
        new ProjectionWorker({ name: 'bad name!' }, new Recorder(), { store, checkpoints, lock }),
    ).toThrow(expect.objectContaining({ code: ErrorCodes.invalidProjection }));
    expect(
      () =>
        new ProjectionWorker({ name: 'p', batchSize: 0 }, new Recorder(), {
          store,
          checkpoints,
          lock,
        }),
    ).toThrow(/batchSize/);
    for (const retry of [{ maxAttempts: 0 }, { timeoutMs: 1000 }]) {
      expect(
        () =>
          new ProjectionWorker({ name: 'p', errorPolicy: { retry } }, new Recorder(), {
            store,
            checkpoints,
            lock,
          }),
      ).toThrow(
        expect.objectContaining({
          code: ErrorCodes.invalidProjection,
          message: expect.stringContaining(`errorPolicy.retry.${Object.keys(retry)[0]}`),
        }),
      );
    }
  });
});

describe('ProjectionWorker with event versions', () => {
  it('hands upcast events to the handler and dead-letters one that cannot be decoded', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    const registry = new EventTypeRegistry([
      {
        type: 'Renamed',
        version: 2,
        upcasters: { 1: (d) => ({ name: (d as { title: string }).title.toUpperCase() }) },
      },
    ]);
    const id = streamId('doc-1');
    await store.append([
      {
        streamId: id,
        expected: ExpectedVersion.any,
        events: [
          testEvent('Renamed', { title: 'first' }),
          testEvent('Renamed', { oops: true }),
          testEvent('Renamed', { name: 'CURRENT' }, { schemaVersion: 2 }),
        ],
      },
    ]);
    const seen: unknown[] = [];
    const worker = new ProjectionWorker(
      {
        name: 'names',
        pollIntervalMs: 20,
        errorPolicy: { onFailure: 'dead-letter', retry: { maxAttempts: 1 } },
      },
      { handle: (e) => void seen.push(e.data) },
      { store, checkpoints, lock: new InMemoryProjectionLock(), events: registry },
    );
    worker.start();
    try {
      await until(() => worker.status().state === 'live', 'live');
      // At-least-once store: the failed first batch may have delivered FIRST once already.
      expect([...new Set(seen.map((d) => JSON.stringify(d)))]).toEqual([
        '{"name":"FIRST"}',
        '{"name":"CURRENT"}',
      ]);
      const [letter] = await checkpoints.deadLetters('names');
      expect(letter).toMatchObject({ eventType: 'Renamed', streamId: 'doc-1' });
      expect(letter!.error).toMatch(/stored schema version 1.*upcaster from version 1 to 2 failed/);
    } finally {
      await worker.stop();
    }
  });
});

describe('ProjectionWorker edge cases', () => {
  let store: InMemoryEventStore;
  let checkpoints: InMemoryCheckpointStore;
  let lock: InMemoryProjectionLock;
  const workers: ProjectionWorker[] = [];
  const make = (
    handler: ProjectionHandler,
    definition: Partial<ProjectionDefinition> = {},
    lockOf = lock,
  ) => {
    const worker = new ProjectionWorker(
      {
        name: 'p',
        batchSize: 10,
        pollIntervalMs: 10,
        errorPolicy: { retry: { initialDelayMs: 1, maxAttempts: 2 } },
        ...definition,
      },
      handler,
      { store, checkpoints, lock: lockOf, standbyRetryMs: 10 },
    );
    workers.push(worker);
    return worker;
  };

  beforeEach(() => {
    store = new InMemoryEventStore();
    checkpoints = new InMemoryCheckpointStore();
    lock = new InMemoryProjectionLock();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });

  it('resolves a wait already passed by the checkpoint it loads on takeover', async () => {
    await appendMany(store, 'a-1', 5);
    const first = make(new Recorder());
    first.start();
    await until(() => first.status().state === 'live', 'first live');
    await first.stop();
    const second = make(new Recorder());
    const waiting = second.waitFor('5' as never);
    second.start();
    await expect(waiting).resolves.toBeUndefined();
  });

  it('cancels one waiter with its signal without dropping another at the same position', async () => {
    const worker = make(new Recorder());
    worker.start();
    worker.pause();
    const { position } = await store.append([
      { streamId: streamId('a-1'), expected: ExpectedVersion.any, events: [testEvent('X')] },
    ]);
    const cancel = new AbortController();
    const cancelled = worker.waitFor(position, cancel.signal);
    const kept = worker.waitFor(position);
    cancel.abort(new Error('gave up'));
    await expect(cancelled).rejects.toThrow('gave up');
    worker.resume();
    await expect(kept).resolves.toBeUndefined();
  });

  it('refuses a foreign position in waitFor at once instead of breaking later batches', async () => {
    const worker = make(new Recorder());
    expect(() => worker.waitFor('abc' as never)).toThrow(
      expect.objectContaining({ code: ErrorCodes.invalidPosition }),
    );
  });

  it('does not dead-letter an event because of a stop during its retries', async () => {
    await appendMany(store, 'a-1', 1);
    let tries = 0;
    let release!: () => void;
    const worker = make(
      {
        handle: async () => {
          tries++;
          await new Promise<void>((r) => (release = r));
          throw new Error('fails while stopping');
        },
      },
      { errorPolicy: { onFailure: 'dead-letter', retry: { initialDelayMs: 1, maxAttempts: 6 } } },
    );
    worker.start();
    await until(() => tries === 1, 'first try');
    const stopping = worker.stop();
    release();
    await stopping;
    expect(await checkpoints.deadLetters('p')).toEqual([]);
    expect(await checkpoints.load('p')).toBeUndefined();
  });

  it('ends a retry backoff when stopped, without a verdict on the event', async () => {
    await appendMany(store, 'a-1', 1);
    let tries = 0;
    const worker = new ProjectionWorker(
      {
        name: 'p',
        errorPolicy: {
          onFailure: 'dead-letter',
          retry: { initialDelayMs: 600_000, maxDelayMs: 600_000, maxAttempts: 2 },
        },
      },
      {
        handle: () => {
          tries++;
          throw new Error('read model down');
        },
      },
      // A stop that waited for the loop's end would outlast the test's timeout.
      { store, checkpoints, lock, stopTimeoutMs: 600_000 },
    );
    worker.start();
    await until(() => tries === 1, 'first try');
    await worker.stop();
    expect(tries).toBe(1);
    expect(await checkpoints.deadLetters('p')).toEqual([]);
    expect(worker.status().state).toBe('stopped');
  });

  it('reports catching-up, not faulted, once resumed after a fault', async () => {
    await appendMany(store, 'a-1', 3);
    const recorder = new Recorder();
    recorder.failOn = (e) => e.streamVersion === 2;
    const worker = make(recorder);
    worker.start();
    await until(() => worker.status().state === 'faulted', 'faulted');
    recorder.failOn = undefined;
    worker.resume();
    await until(() => worker.status().state !== 'faulted', 'not faulted');
    expect(['catching-up', 'live']).toContain(worker.status().state);
  });

  it('refuses pause, resume and rebuild where the projection does not run, changing nothing', async () => {
    const stopped = make(new Recorder());
    await expect(stopped.rebuild()).rejects.toMatchObject({
      code: ErrorCodes.projectionNotActive,
      state: 'stopped',
      action: 'rebuilt',
    });
    await expect(stopped.pause()).rejects.toMatchObject({ code: ErrorCodes.projectionNotActive });
    const active = make(new Recorder());
    active.start();
    await until(() => active.status().state === 'live', 'live');
    const standby = make(new Recorder());
    standby.start();
    await until(() => standby.status().state === 'standby', 'standby');
    await expect(standby.rebuild()).rejects.toThrow(/another instance holds its lock/);
    await expect(standby.pause()).rejects.toMatchObject({
      code: ErrorCodes.projectionNotActive,
      state: 'standby',
      action: 'paused',
    });
    await expect(standby.resume()).rejects.toMatchObject({ state: 'standby', action: 'resumed' });
    // The refused pause is not kept for later: on takeover the projection runs.
    await active.stop();
    await appendMany(store, 'a-1', 2);
    await until(() => standby.status().state === 'live', 'the standby took over and is live');
    expect(standby.status().handledEvents).toBe(2);
  });

  it('refuses a pause asked while starting once another instance turns out to hold the lock', async () => {
    const active = make(new Recorder());
    active.start();
    await until(() => active.status().state === 'live', 'live');
    const second = make(new Recorder());
    second.start();
    await expect(second.pause()).rejects.toMatchObject({
      code: ErrorCodes.projectionNotActive,
      state: 'standby',
    });
    await active.stop();
    await appendMany(store, 'a-1', 1);
    await until(() => second.status().handledEvents === 1, 'the second runs, not paused');
  });

  it('answers pause with paused and resume with the state after its first batch', async () => {
    const recorder = new Recorder();
    const worker = make(recorder, { pollIntervalMs: 60_000 });
    worker.start();
    await until(() => worker.status().state === 'live', 'live');
    expect(await worker.pause()).toMatchObject({ name: 'p', state: 'paused' });
    expect(await worker.pause()).toMatchObject({ state: 'paused' }); // already paused
    await appendMany(store, 'a-1', 3);
    const resumed = await worker.resume();
    expect(resumed).toMatchObject({ state: 'live', handledEvents: 3, lagEvents: 0 });
    expect(recorder.seen).toHaveLength(3);
    // Resuming a running projection answers after its next batch too.
    expect(await worker.resume()).toMatchObject({ state: 'live', handledEvents: 3 });
  });

  it('answers resume with catching-up while far behind, and rebuild with rebuilding', async () => {
    await appendMany(store, 'a-1', 25); // batchSize 10: three batches
    const worker = make(new Recorder());
    worker.start();
    expect(await worker.pause()).toMatchObject({ state: 'paused' });
    expect((await worker.resume()).state).toBe('catching-up');
    await until(() => worker.status().state === 'live', 'live');
    expect(await worker.rebuild()).toMatchObject({ state: 'rebuilding', handledEvents: 0 });
    await worker.pause();
    expect(await worker.rebuild()).toMatchObject({ state: 'paused', position: null });
  });

  it('answers resume with faulted when the event still fails', async () => {
    await appendMany(store, 'a-1', 2);
    const recorder = new Recorder();
    recorder.failOn = (e) => e.streamVersion === 2;
    const worker = make(recorder);
    worker.start();
    await until(() => worker.status().state === 'faulted', 'faulted');
    expect(await worker.pause()).toMatchObject({ state: 'faulted' });
    expect(await worker.resume()).toMatchObject({
      state: 'faulted',
      lastError: 'cannot handle Happened',
    });
    recorder.failOn = undefined;
    expect(await worker.resume()).toMatchObject({ state: 'live', handledEvents: 2 });
  });

  it('a pause cuts a retry backoff short and gives no verdict; resume tries the event again', async () => {
    await appendMany(store, 'a-1', 1);
    let tries = 0;
    let failing = true;
    const worker = make(
      {
        handle: () => {
          tries++;
          if (failing) throw new Error('read model down');
        },
      },
      {
        errorPolicy: {
          onFailure: 'dead-letter',
          retry: { initialDelayMs: 600_000, maxDelayMs: 600_000, maxAttempts: 4 },
        },
      },
    );
    worker.start();
    await until(() => tries === 1, 'first try');
    expect(await worker.pause()).toMatchObject({ state: 'paused', handledEvents: 0 });
    expect(await checkpoints.deadLetters('p')).toEqual([]);
    failing = false;
    expect(await worker.resume()).toMatchObject({ state: 'live', handledEvents: 1 });
    expect(tries).toBe(2);
  });

  it('answers a pending pause or resume with stopped when the worker stops', async () => {
    let release!: () => void;
    await appendMany(store, 'a-1', 1);
    const worker = make({ handle: () => new Promise<void>((r) => (release = r)) });
    worker.start();
    await until(() => release !== undefined, 'the batch in flight');
    const pausing = worker.pause();
    const stopping = worker.stop();
    release();
    await stopping;
    expect(await pausing).toMatchObject({ state: 'stopped' });
  });

  it('keeps lag figures current while paused', async () => {
    const worker = make(new Recorder());
    worker.start();
    await until(() => worker.status().state === 'live', 'live');
    worker.pause();
    await until(() => worker.status().state === 'paused', 'paused');
    await appendMany(store, 'a-1', 7);
    await until(() => worker.status().lagEvents === 7, 'lag of 7 while paused');
  });

  it('rejects pending waits when stopped', async () => {
    const worker = make(new Recorder());
    worker.start();
    worker.pause();
    const { position } = await store.append([
      { streamId: streamId('a-1'), expected: ExpectedVersion.any, events: [testEvent('X')] },
    ]);
    const waiting = worker.waitFor(position);
    await worker.stop();
    await expect(waiting).rejects.toThrow(/stopped/);
  });
});

describe('ProjectionWorker with a batch handler', () => {
  it('hands whole batches to handleBatch, and single events while isolating a failure', async () => {
    const store = new InMemoryEventStore();
    const checkpoints = new InMemoryCheckpointStore();
    await appendMany(store, 'a-1', 25);
    const calls: number[][] = [];
    let failVersion: number | undefined = 13;
    const worker = new ProjectionWorker(
      {
        name: 'batched',
        batchSize: 10,
        pollIntervalMs: 10,
        errorPolicy: { onFailure: 'dead-letter', retry: { maxAttempts: 1 } },
      },
      {
        handle: () => {
          throw new Error('handle must not be called when handleBatch exists');
        },
        handleBatch: (events) => {
          if (events.some((e) => e.streamVersion === failVersion)) throw new Error('bad event');
          calls.push(events.map((e) => e.streamVersion));
        },
      },
      { store, checkpoints, lock: new InMemoryProjectionLock() },
    );
    worker.start();
    try {
      await until(() => worker.status().state === 'live', 'live');
      expect(calls[0]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      // The failing batch (11–20) is retried event by event; 13 is dead-lettered.
      expect(calls.slice(1, 10)).toEqual([[11], [12], [14], [15], [16], [17], [18], [19], [20]]);
      expect(calls.at(-1)).toEqual([21, 22, 23, 24, 25]);
      expect((await checkpoints.deadLetters('batched')).map((l) => l.globalPosition)).toEqual([13]);
      failVersion = undefined;
    } finally {
      await worker.stop();
    }
  });
});

describe('ProjectionWorker batching window', () => {
  /** A batching window that only ends when the test says so: the manual clock of these tests. */
  class ManualWindows {
    readonly opened: number[] = [];
    private readonly ends: (() => void)[] = [];
    readonly delay = (ms: number): Promise<void> => {
      this.opened.push(ms);
      return new Promise((resolve) => this.ends.push(resolve));
    };
    /** Ends every open window. */
    elapse(): void {
      for (const end of this.ends.splice(0)) end();
    }
  }

  /** Counts the checkpoint transactions the worker commits. */
  class CountingCheckpoints extends InMemoryCheckpointStore {
    commits = 0;
    override commit<T>(...args: Parameters<InMemoryCheckpointStore['commit']>): Promise<T> {
      this.commits++;
      return super.commit(...(args as Parameters<InMemoryCheckpointStore['commit']>)) as Promise<T>;
    }
  }

  let store: InMemoryEventStore;
  let checkpoints: CountingCheckpoints;
  let windows: ManualWindows;
  let batches: number[][];
  let worker: ProjectionWorker;

  const start = (definition: Partial<ProjectionDefinition> = {}) => {
    worker = new ProjectionWorker(
      { name: 'p', batchSize: 10, pollIntervalMs: 60_000, batchWindowMs: 5, ...definition },
      {
        handle: () => {
          throw new Error('handleBatch is the one called');
        },
        handleBatch: (events) => {
          batches.push(events.map((e) => Number(e.globalPosition)));
        },
      },
      {
        store,
        checkpoints,
        lock: new InMemoryProjectionLock(),
        delay: windows.delay,
        stopTimeoutMs: 60_000,
      },
    );
    worker.start();
  };

  const appendOne = () =>
    store.append([
      { streamId: streamId('a-1'), expected: ExpectedVersion.any, events: [testEvent('X')] },
    ]);

  beforeEach(() => {
    store = new InMemoryEventStore();
    checkpoints = new CountingCheckpoints();
    windows = new ManualWindows();
    batches = [];
  });

  afterEach(async () => {
    windows.elapse();
    await worker.stop();
  });

  it('handles the appends made within the window in one batch and one checkpoint commit', async () => {
    start();
    await until(() => worker.status().state === 'live', 'live');
    const commitsWhenLive = checkpoints.commits;
    await appendOne();
    await until(() => windows.opened.length === 1, 'the window to open');
    for (let i = 0; i < 5; i++) await appendOne();
    expect(batches).toEqual([]);
    windows.elapse();
    await until(() => batches.length === 1, 'the batch');
    expect(batches).toEqual([[1, 2, 3, 4, 5, 6]]);
    expect(windows.opened).toEqual([5]);
    expect(checkpoints.commits - commitsWhenLive).toBe(1);
    expect(await checkpoints.load('p')).toBe('6');
  });

  it('never waits during catch-up or with a full batch', async () => {
    await store.append([
      {
        streamId: streamId('a-1'),
        expected: ExpectedVersion.any,
        events: Array.from({ length: 25 }, () => testEvent('X')),
      },
    ]);
    start();
    await until(() => worker.status().state === 'live', 'caught up without a window');
    expect(windows.opened).toEqual([]);
    await store.append([
      {
        streamId: streamId('a-1'),
        expected: ExpectedVersion.any,
        events: Array.from({ length: 20 }, () => testEvent('X')),
      },
    ]);
    // Two full batches, the second at the end of the log, go at once.
    await until(() => batches.length === 5, 'the two full batches');
    expect(batches.slice(3).map((b) => b.length)).toEqual([10, 10]);
    expect(windows.opened).toEqual([]);
    await appendOne();
    await until(() => windows.opened.length === 1, 'the window for a lone event');
    windows.elapse();
    await until(() => batches.length === 6, 'the lone event');
    expect(batches[5]).toEqual([46]);
  });

  it('does not wait on a short page that is not the end of the log', async () => {
    // As a filtered read on PostgreSQL does when its scan budget runs out before the page fills.
    class ScanBudgetStore extends InMemoryEventStore {
      override async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
        return super.readAll({ ...options, limit: Math.min(options.limit, 2) });
      }
    }
    store = new ScanBudgetStore();
    start();
    await until(() => worker.status().state === 'live', 'live');
    await store.append([
      {
        streamId: streamId('a-1'),
        expected: ExpectedVersion.any,
        events: Array.from({ length: 5 }, () => testEvent('X')),
      },
    ]);
    await until(() => windows.opened.length === 1, 'the window for the last page');
    // The window holds the last page until elapse(): the pages before it went without waiting.
    expect(batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    windows.elapse();
    await until(() => batches.length === 3, 'the last page');
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('is cut short by stop, leaving the events for the next run', async () => {
    start();
    await until(() => worker.status().state === 'live', 'live');
    await appendOne();
    await until(() => windows.opened.length === 1, 'the window to open');
    await worker.stop(); // would wait for the 60 s stop timeout if the window held it
    expect(batches).toEqual([]);
    expect(await checkpoints.load('p')).toBe('0'); // the empty log's, from before the append
  });

  it('is cut short by pause; the events are handled on resume', async () => {
    start();
    await until(() => worker.status().state === 'live', 'live');
    await appendOne();
    await until(() => windows.opened.length === 1, 'the window to open');
    await expect(worker.pause()).resolves.toMatchObject({ state: 'paused' });
    expect(batches).toEqual([]);
    await worker.resume();
    await until(() => batches.length === 1, 'the batch after resume');
    expect(batches).toEqual([[1]]);
  });

  it('handles each wake-up at once with a window of 0', async () => {
    start({ batchWindowMs: 0 });
    await until(() => worker.status().state === 'live', 'live');
    await appendOne();
    await until(() => batches.length === 1, 'the batch');
    expect(windows.opened).toEqual([]);
  });

  it('refuses a window that is not 0 to 1000 ms', () => {
    for (const batchWindowMs of [-1, 1_001, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
      expect(
        () =>
          new ProjectionWorker(
            { name: 'p', batchWindowMs: batchWindowMs as number },
            { handle: () => undefined },
            { store, checkpoints, lock: new InMemoryProjectionLock() },
          ),
      ).toThrow(
        expect.objectContaining({
          code: ErrorCodes.invalidProjection,
          message: expect.stringContaining('batchWindowMs must be a number of milliseconds'),
        }),
      );
    }
    worker = new ProjectionWorker(
      { name: 'p', batchWindowMs: 0 },
      { handle: () => undefined },
      { store, checkpoints, lock: new InMemoryProjectionLock() },
    );
  });
});

describe('ProjectionWorker read-ahead', () => {
  /** Records where each page read starts. */
  class RecordingStore extends InMemoryEventStore {
    readonly reads: (string | undefined)[] = [];
    override readAll(options: ReadAllOptions): Promise<ReadAllPage> {
      this.reads.push(options.after);
      return super.readAll(options);
    }
  }

  it('reads the next page while catching up, and hands every event over once in order', async () => {
    const store = new RecordingStore();
    await appendMany(store, 'a-1', 25);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const batches: number[][] = [];
    const worker = new ProjectionWorker(
      { name: 'ahead', batchSize: 10, pollIntervalMs: 60_000, batchWindowMs: 0 },
      {
        handle: () => undefined,
        handleBatch: async (events) => {
          if (batches.length === 0) await held;
          batches.push(events.map((e) => e.globalPosition));
        },
      },
      { store, checkpoints: new InMemoryCheckpointStore(), lock: new InMemoryProjectionLock() },
    );
    worker.start();
    try {
      // The first batch is held in its handler, and the page after it is already being read.
      await until(() => store.reads.length === 2, 'the read-ahead');
      expect(store.reads).toEqual([undefined, '10']);
      expect(batches).toEqual([]);
      release();
      await until(() => worker.status().state === 'live', 'live');
      expect(batches.flat()).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
      // Read once each: the pages read ahead were used, not read again.
      expect(store.reads.slice(0, 3)).toEqual([undefined, '10', '20']);
    } finally {
      release();
      await worker.stop();
    }
  });

  it('drops the page read ahead when a rebuild starts over', async () => {
    const store = new RecordingStore();
    await appendMany(store, 'a-1', 30);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const seen: number[] = [];
    let batches = 0;
    const worker = new ProjectionWorker(
      { name: 'ahead', batchSize: 10, pollIntervalMs: 60_000, batchWindowMs: 0 },
      {
        handle: () => undefined,
        handleBatch: async (events) => {
          if (batches++ === 0) await held;
          seen.push(...events.map((e) => e.globalPosition));
        },
        reset: () => {
          seen.length = 0;
        },
      },
      { store, checkpoints: new InMemoryCheckpointStore(), lock: new InMemoryProjectionLock() },
    );
    worker.start();
    try {
      await until(() => store.reads.length === 2, 'the read-ahead');
      const rebuilt = worker.rebuild(); // taken up once the held batch is done
      release();
      await rebuilt;
      await until(() => worker.status().state === 'live', 'live');
      expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    } finally {
      release();
      await worker.stop();
    }
  });
});
