/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import {
  ExpectedVersion,
  InMemoryProjectionLock,
  type ProjectionHandler,
  ProjectionWorker,
  type RecordedEvent,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { createPGliteEventStore } from '../postgres.factory';
import type { PostgresEventStore } from '../postgres.event-store';
import { loadPGlite } from '../testing/pglite.testing';
import {
  createPostgresCheckpointStore,
  type PostgresCheckpointStore,
  type PostgresProjectionTx,
} from './postgres.checkpoint-store';
import { until } from './projection.fixtures';

/** A read model that owns its table: `setup` creates it, `handle` inserts into it. */
class NotesProjection implements ProjectionHandler<PostgresProjectionTx> {
  constructor(
    private readonly table: string,
    private readonly failSetup?: string,
  ) {}

  async setup({ tx }: { tx: PostgresProjectionTx }): Promise<void> {
    if (this.failSetup !== undefined) throw new Error(this.failSetup);
    await tx.query(`CREATE TABLE IF NOT EXISTS ${this.table} (id text PRIMARY KEY)`);
  }

  async handle(event: RecordedEvent, { tx }: { tx: PostgresProjectionTx }): Promise<void> {
    // Without setup this fails with "relation does not exist" and the projection faults.
    await tx.query(`INSERT INTO ${this.table} (id) VALUES ($1)`, [event.id]);
  }
}

let db: PGlite;
let schemas = 0;

beforeAll(async () => {
  db = await loadPGlite().create();
});

afterAll(async () => {
  await db.close();
});

describe('a projection setup step on PGlite', () => {
  let store: PostgresEventStore;
  let checkpoints: PostgresCheckpointStore;
  let schema: string;
  const workers: ProjectionWorker<PostgresProjectionTx>[] = [];

  const start = (handler: ProjectionHandler<PostgresProjectionTx>) => {
    const worker = new ProjectionWorker<PostgresProjectionTx>(
      {
        name: 'notes',
        pollIntervalMs: 20,
        errorPolicy: { retry: { initialDelayMs: 1, maxAttempts: 2 } },
      },
      handler,
      { store, checkpoints, lock: new InMemoryProjectionLock() },
    );
    workers.push(worker);
    worker.start();
    return worker;
  };

  beforeEach(async () => {
    schema = `setup_${++schemas}`;
    store = await createPGliteEventStore({ db, schema });
    checkpoints = await createPostgresCheckpointStore(store);
    await store.append([
      {
        streamId: streamId('note-1'),
        expected: ExpectedVersion.any,
        events: [testEvent('Noted', { n: 1 }), testEvent('Noted', { n: 2 })],
      },
    ]);
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });

  it('creates its table in the checkpoint transaction before the first event is handled', async () => {
    const worker = start(new NotesProjection(`${schema}.notes`));
    await until(() => worker.status().state === 'live', 'live');
    expect(worker.status()).toMatchObject({ handledEvents: 2, lastError: null });
    const rows = await db.query(`SELECT count(*)::int AS n FROM ${schema}.notes`);
    expect(rows.rows).toEqual([{ n: 2 }]);
  });

  it('faults with a clear error when setup fails, and writes nothing', async () => {
    const worker = start(new NotesProjection(`${schema}.notes`, 'permission denied for schema'));
    await until(() => worker.status().state === 'faulted', 'faulted');
    expect(worker.status().lastError).toContain(
      'The setup step of projection "notes" failed: permission denied for schema.',
    );
    expect(worker.status().handledEvents).toBe(0);
    const table = await db.query(`SELECT to_regclass('${schema}.notes') AS t`);
    expect(table.rows).toEqual([{ t: null }]);
  });
});
