/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import {
  CheckpointMovedError,
  ExpectedVersion,
  InMemoryProjectionLock,
  type Position,
  ProjectionWorker,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { PGliteSqlExecutor } from '../executor/pglite.sql-executor';
import type { PostgresEventStore } from '../postgres.event-store';
import { createPGliteEventStore } from '../postgres.factory';
import { loadPGlite } from '../testing/pglite.testing';
import { createPGliteAppendNotifier } from './postgres.append-notifier';
import {
  createPostgresCheckpointStore,
  type PostgresCheckpointStore,
  type PostgresProjectionTx,
} from './postgres.checkpoint-store';
import {
  appendConcurrently,
  freshSums,
  readLog,
  SumsReadModel,
  until,
} from './projection.fixtures';

let db: PGlite;
let query: PGliteSqlExecutor;
let schemas = 0;

beforeAll(async () => {
  db = await loadPGlite().create();
  query = new PGliteSqlExecutor(db, false);
});

afterAll(async () => {
  await db.close();
});

describe('PostgreSQL projections on PGlite', () => {
  let store: PostgresEventStore;
  let checkpoints: PostgresCheckpointStore;
  let readModel: SumsReadModel;
  const workers: ProjectionWorker<PostgresProjectionTx>[] = [];

  beforeEach(async () => {
    const schema = `proj_${++schemas}`;
    store = await createPGliteEventStore({ db, schema });
    checkpoints = await createPostgresCheckpointStore(store);
    readModel = await SumsReadModel.create(query, `${schema}.rm`);
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    store.useAppendNotifier(undefined);
  });

  const startWorker = (pollIntervalMs = 20) => {
    const worker = new ProjectionWorker<PostgresProjectionTx>(
      {
        name: 'sums',
        batchSize: 25,
        pollIntervalMs,
        errorPolicy: { retry: { initialDelayMs: 1, maxAttempts: 3 } },
      },
      readModel,
      { store, checkpoints, lock: new InMemoryProjectionLock(), standbyRetryMs: 10 },
    );
    workers.push(worker);
    worker.start();
    return worker;
  };

  it('rolls back the read-model change of a failed batch and ends equal to a fresh projection', async () => {
    await appendConcurrently(store, 4, 30);
    let failures = 0;
    // Fails twice on one event, after its rows were written: the batch (and then the single
    // event) must roll back every time, or the sums would count those events twice.
    readModel.failOn = (event) => {
      if (event.globalPosition !== 37 || failures === 2) return false;
      failures++;
      return true;
    };
    const worker = startWorker();
    await until(() => worker.status().state === 'live', 'live');
    expect(failures).toBe(2);
    expect(await readModel.read(query)).toEqual(freshSums(await readLog(store)));
    expect(worker.status()).toMatchObject({ handledEvents: 120, state: 'live' });
  });

  it('fences: of two commits from the same checkpoint one fails and the read model changes once', async () => {
    await appendConcurrently(store, 1, 2);
    const [first, second] = await readLog(store);
    const commit = (event: typeof first, to: Position) =>
      checkpoints.commit('sums', undefined, to, (tx) => readModel.handle(event!, { tx }));
    await commit(first, '1:1' as Position);
    await expect(commit(second, '1:2' as Position)).rejects.toBeInstanceOf(CheckpointMovedError);
    const read = await readModel.read(query);
    expect(read.handled).toEqual([first!.id]);
    expect(await checkpoints.load('sums')).toBe('1:1');
  });

  it('dead-letters without the event data, fenced, and resets the checkpoint with the read model', async () => {
    await appendConcurrently(store, 1, 1);
    const [event] = await readLog(store);
    await checkpoints.deadLetter('sums', undefined, '5:5' as Position, event!, new Error('boom'));
    await expect(
      checkpoints.deadLetter('sums', undefined, '6:6' as Position, event!, new Error('again')),
    ).rejects.toBeInstanceOf(CheckpointMovedError);
    const letters = await checkpoints.deadLetters('sums');
    expect(letters).toEqual([
      {
        projection: 'sums',
        eventId: event!.id,
        streamId: event!.streamId,
        eventType: 'Deposited',
        globalPosition: event!.globalPosition,
        error: 'boom',
        recordedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      },
    ]);
    expect(JSON.stringify(letters)).not.toContain('amount');
    await checkpoints.commit('sums', '5:5' as Position, '7:7' as Position, (tx) =>
      readModel.handle(event!, { tx }),
    );
    await checkpoints.reset('sums', (tx) => readModel.reset({ tx }));
    expect(await checkpoints.load('sums')).toBeUndefined();
    expect((await readModel.read(query)).handled).toEqual([]);
    // After a reset the first commit starts from undefined again.
    await checkpoints.commit('sums', undefined, '8:8' as Position, async () => undefined);
    expect(await checkpoints.load('sums')).toBe('8:8');
  });

  it('rebuilds to the same read model', async () => {
    await appendConcurrently(store, 3, 10);
    const worker = startWorker();
    await until(() => worker.status().state === 'live', 'live');
    await worker.rebuild();
    await until(() => worker.status().state === 'live', 'live again');
    expect(await readModel.read(query)).toEqual(freshSums(await readLog(store)));
  });

  it('wakes a worker through LISTEN long before its 60 s poll', async () => {
    const notifier = await createPGliteAppendNotifier(db, { schema: store.schema });
    store.useAppendNotifier(notifier);
    try {
      const worker = startWorker(60_000);
      await until(() => worker.status().state === 'live', 'live');
      await store.append([
        {
          streamId: streamId('acct-live'),
          expected: ExpectedVersion.any,
          events: [testEvent('Deposited', { amount: 5 })],
        },
      ]);
      await until(
        async () => (await readModel.read(query)).handled.length === 1,
        'the event, woken by NOTIFY',
        20_000,
      );
    } finally {
      await notifier.close();
    }
  });
});
