import {
  CheckpointMovedError,
  type Position,
  type ProjectionLock,
  ProjectionWorker,
} from '@eventcore/core';
import type { Pool } from 'pg';
import { PgPoolSqlExecutor } from '../executor/pg-pool.sql-executor';
import type { SqlQueryable } from '../executor/sql-executor';
import type { PostgresEventStore } from '../postgres.event-store';
import { createPostgresEventStore } from '../postgres.factory';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '../testing/test-database';
import {
  createPostgresAppendNotifier,
  type PostgresAppendNotifier,
} from './postgres.append-notifier';
import {
  createPostgresCheckpointStore,
  type PostgresProjectionTx,
} from './postgres.checkpoint-store';
import { PostgresLeaseLock } from './postgres.lease-lock';
import { PostgresProjectionLock } from './postgres.projection-lock';
import {
  appendConcurrently,
  freshSums,
  readLog,
  SumsReadModel,
  until,
} from './projection.fixtures';

const CLIENTS = 16;

/** One "app instance": its own pool, store, checkpoint store, lock, notifier and worker. */
interface Instance {
  readonly name: string;
  readonly store: PostgresEventStore;
  readonly worker: ProjectionWorker<PostgresProjectionTx>;
  readonly notifier: PostgresAppendNotifier;
  /** A dead process takes no lease any more. */
  dead: boolean;
  close(): Promise<void>;
}

describeWithServer('PostgreSQL projections (server)', () => {
  let database: TestDatabase;
  let admin: Pool;
  let db: SqlQueryable;
  let schemas = 0;
  let schema: string;
  let readModel: SumsReadModel;
  const instances: Instance[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    admin = database.pool({ max: 4 });
    db = new PgPoolSqlExecutor(admin, false);
  });

  beforeEach(async () => {
    schema = `proj_${++schemas}`;
    // Creates the schema (events and projection tables) once, before the instances race for it.
    await (await createPostgresEventStore({ pool: admin, schema })).close();
    readModel = await SumsReadModel.create(db, `${schema}.rm`);
  });

  afterEach(async () => {
    await Promise.all(instances.splice(0).map((i) => i.close()));
  });

  afterAll(async () => {
    await database?.drop();
  });

  async function startInstance(name: string, pollIntervalMs = 50): Promise<Instance> {
    const connection = { connectionString: database.url, application_name: name };
    const pool = database.pool({ ...connection, max: CLIENTS + 2 });
    // PgPoolSqlExecutor leaves a checked-out connection without an 'error' listener; one killed
    // between two statements of a transaction would crash the test process (reported upstream).
    pool.on('connect', (client) => client.on('error', () => undefined));
    const store = await createPostgresEventStore({ pool, schema, migrate: false });
    const checkpoints = await createPostgresCheckpointStore(store, { migrate: false });
    const sessionLock = new PostgresProjectionLock({
      connection,
      schema,
      heartbeatMs: 100,
      heartbeatTimeoutMs: 1_000,
    });
    const notifier = await createPostgresAppendNotifier(connection, { schema });
    store.useAppendNotifier(notifier);
    const instance: Instance = {
      name,
      store,
      notifier,
      dead: false,
      worker: undefined as never,
      async close() {
        await this.worker.stop();
        await sessionLock.close();
        await notifier.close();
        await store.close();
      },
    };
    const lock: ProjectionLock = {
      tryAcquire: (projection) =>
        instance.dead ? Promise.resolve(undefined) : sessionLock.tryAcquire(projection),
    };
    const worker = new ProjectionWorker<PostgresProjectionTx>(
      { name: 'sums', batchSize: 20, pollIntervalMs },
      readModel,
      { store, checkpoints, lock, standbyRetryMs: 50 },
    );
    Object.assign(instance, { worker });
    instances.push(instance);
    worker.start();
    return instance;
  }

  /** Kills every server connection of an instance (its lock, LISTEN and pool connections). */
  async function killConnections(name: string): Promise<number> {
    const rows = await db.query<{ killed: boolean }>(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1`,
      [name],
    );
    return rows.length;
  }

  /** Instances whose worker runs the projection (holds the lease). */
  const running = (list: Instance[]) =>
    list.filter((i) => !['standby', 'stopped'].includes(i.worker.status().state));

  it('rolls back a failed batch: after retries the table equals a fresh computation', async () => {
    const a = await startInstance('solo');
    let failures = 0;
    readModel.failOn = (event) => {
      if (event.globalPosition % 97 !== 0 || failures >= 3) return false;
      failures++;
      return true;
    };
    await a.worker.waitFor(await appendConcurrently(a.store, CLIENTS, 20));
    const log = await readLog(a.store);
    expect(failures).toBe(3);
    expect(await readModel.read(db)).toEqual(freshSums(log));
  });

  it('fences two concurrent commits from the same checkpoint: one fails, the read model changes once', async () => {
    const store = await createPostgresEventStore({ pool: admin, schema, migrate: false });
    const checkpoints = await createPostgresCheckpointStore(store, { migrate: false });
    await appendConcurrently(store, 1, 1);
    const [event] = await readLog(store);
    const results = await Promise.allSettled(
      ['1:1', '1:2'].map((to) =>
        checkpoints.commit('sums', undefined, to as Position, async (tx) => {
          await readModel.handle(event!, { tx });
          await tx.query('SELECT pg_sleep(0.05)'); // keep both transactions open together
        }),
      ),
    );
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(CheckpointMovedError);
    expect(await readModel.read(db)).toEqual(freshSums([event!]));
    // And from a known position too.
    const from = (await checkpoints.load('sums'))!;
    const again = await Promise.allSettled(
      ['2:1', '2:2'].map((to) =>
        checkpoints.commit('sums', from, to as Position, (tx) => readModel.handle(event!, { tx })),
      ),
    );
    expect(again.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect((await readModel.read(db)).doubles).toBe(1); // applied once more, not twice
  });

  it('session lock: one lease per projection; killing the holder connection loses it and frees it', async () => {
    const url = database.url;
    const first = new PostgresProjectionLock({
      connection: { connectionString: url, application_name: 'lock-one' },
      schema,
      heartbeatMs: 100,
      heartbeatTimeoutMs: 1_000,
    });
    const second = new PostgresProjectionLock({ connection: url, schema, heartbeatMs: 100 });
    try {
      const lease = await first.tryAcquire('p');
      expect(lease?.isHeld()).toBe(true);
      expect(await second.tryAcquire('p')).toBeUndefined();
      const other = await second.tryAcquire('q'); // another projection is independent
      expect(other).toBeDefined();
      await other!.release();

      const lost = new Promise<void>((resolve) => lease!.onLost(resolve));
      expect(await killConnections('lock-one')).toBe(1);
      await lost;
      expect(lease!.isHeld()).toBe(false);
      let taken: Awaited<ReturnType<typeof second.tryAcquire>>;
      await until(async () => (taken = await second.tryAcquire('p')) !== undefined, 'takeover');
      await taken!.release();
      const back = await first.tryAcquire('p'); // released: free again
      expect(back).toBeDefined();
      await back!.release();
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('lease-row lock: one lease per projection, taken over only after expiry, freed by release', async () => {
    const executor = new PgPoolSqlExecutor(admin, false);
    const a = new PostgresLeaseLock(executor, { schema, ttlMs: 600, renewMs: 100 });
    const b = new PostgresLeaseLock(executor, { schema, ttlMs: 600, renewMs: 100 });
    try {
      const lease = await a.tryAcquire('p');
      expect(lease).toBeDefined();
      expect(await b.tryAcquire('p')).toBeUndefined();
      await lease!.release();
      const next = await b.tryAcquire('p');
      expect(next).toBeDefined();
      // The holder stops renewing (as if frozen): the row expires and another takes it.
      const lost = new Promise<void>((resolve) => next!.onLost(resolve));
      await db.query(
        `UPDATE ${schema}.projection_leases SET expires_at = now() - interval '1 second'`,
      );
      const taken = await a.tryAcquire('p');
      expect(taken).toBeDefined();
      await lost; // its next renewal finds the row taken
      expect(next!.isHeld()).toBe(false);
      await taken!.release();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it.each(['stop', 'kill'] as const)(
    'two instances: one runs; %s it mid-stream under 16 writers and the other ends equal to a fresh rebuild',
    async (how) => {
      const writer = await createPostgresEventStore({
        connectionString: database.url,
        schema,
        poolSize: CLIENTS,
        migrate: false,
      });
      try {
        const a = await startInstance(`inst-a-${how}`);
        await until(() => a.worker.status().state === 'live', 'a live');
        const b = await startInstance(`inst-b-${how}`);
        await until(() => b.worker.status().state === 'standby', 'b standby');
        let openGate!: () => void;
        const gate = new Promise<void>((resolve) => (openGate = resolve));
        // The writers pause half-way so that the stop or kill lands while they append again.
        const writers = (async () => {
          await appendConcurrently(writer, CLIENTS, 20, `${how}-1`);
          await gate;
          return appendConcurrently(writer, CLIENTS, 20, `${how}-2`);
        })();
        await until(async () => (await readModel.read(db)).handled.length >= 100, 'mid-stream');
        expect(running([a, b])).toEqual([a]);
        openGate();
        if (how === 'stop') {
          await a.worker.stop();
        } else {
          a.dead = true; // the process is gone: it takes no lease again
          expect(await killConnections(a.name)).toBeGreaterThan(0);
        }
        await until(() => b.worker.status().state !== 'standby', 'b takes over');
        await b.worker.waitFor(await writers);
        expect(await readModel.read(db)).toEqual(freshSums(await readLog(writer)));
        expect(running([a, b])).toEqual([b]);
      } finally {
        await writer.close();
      }
    },
  );

  it('sees every event exactly once in commit order across catch-up and live under 16 writers', async () => {
    const writer = await createPostgresEventStore({
      connectionString: database.url,
      schema,
      poolSize: CLIENTS,
      migrate: false,
    });
    try {
      await appendConcurrently(writer, CLIENTS, 15, 'before');
      const a = await startInstance('ordered', 20);
      await a.worker.waitFor(await appendConcurrently(writer, CLIENTS, 25, 'during'));
      const read = await readModel.read(db);
      expect(read.doubles).toBe(0);
      expect(read.handled).toEqual((await readLog(writer)).map((e) => e.id));
      expect(read.handled).toHaveLength(CLIENTS * 40);
    } finally {
      await writer.close();
    }
  });

  it('wakes a worker through LISTEN/NOTIFY long before its 60 s poll', async () => {
    const a = await startInstance('listener', 60_000);
    await until(() => a.worker.status().state === 'live', 'live');
    await until(() => a.notifier.listening, 'listening');
    await appendConcurrently(a.store, 1, 1, 'wake');
    await until(async () => (await readModel.read(db)).handled.length === 1, 'the event', 20_000);
  });

  it('the notifier reconnects after its connection is killed and wakes the worker again', async () => {
    const a = await startInstance('relisten', 60_000);
    await until(() => a.worker.status().state === 'live', 'live');
    await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'relisten' AND query LIKE 'LISTEN%'`,
    );
    await until(() => !a.notifier.listening, 'lost');
    await until(() => a.notifier.listening, 'listening again');
    await appendConcurrently(a.store, 1, 1, 'again');
    await until(async () => (await readModel.read(db)).handled.length === 1, 'the event', 20_000);
  });
});
