import { ExpectedVersion, streamId, type StreamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import {
  createPostgresEventStore,
  createPostgresStorage,
  PostgresLeaseLock,
  type PostgresEventStore,
} from '@eventcore/postgres';
import {
  ADMIN_URL,
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import { type PgBouncer, startPgBouncer } from './support/pgbouncer';

/*
 * The store behind a real PgBouncer 1.18 in transaction pooling mode with ONE server connection, so
 * that every client's transactions share one server session: what lives in a session (a prepared
 * statement, a session advisory lock) is then seen by every other client, deterministically. The option
 * `pooler: 'transaction'` is what makes it work: without it the first connection is refused
 * (`statement_timeout` is an unknown startup parameter to PgBouncer) and named prepared statements
 * would be sent to sessions that never saw them. The bank's multi-instance test runs the whole
 * application through it as well (test/bank-multi-instance.e2e-spec.ts).
 */
describeWithServer('the store behind PgBouncer in transaction mode', () => {
  let database: TestDatabase;
  let bouncer: PgBouncer;
  let url: string;

  beforeAll(async () => {
    bouncer = await startPgBouncer(ADMIN_URL, { poolSize: 1 });
    database = await createTestDatabase();
    url = bouncer.through(database.url);
  });

  afterAll(async () => {
    await bouncer?.stop();
    await database?.drop();
  });

  it('is refused without the pooler option (PgBouncer rejects the statement_timeout startup parameter)', async () => {
    await expect(
      createPostgresEventStore({ connectionString: url, retry: false, circuitBreaker: false }),
    ).rejects.toThrow(/unsupported startup parameter: statement_timeout/);
  });

  it("appends, reads, conditions and pages the log with pooler: 'transaction'", async () => {
    const store = await createPostgresEventStore({ connectionString: url, pooler: 'transaction' });
    try {
      const ids: StreamId[] = [];
      // Concurrent appends and reads over more clients than server connections.
      await Promise.all(
        Array.from({ length: 24 }, async (_, i) => {
          const id = streamId(`pooled-${i}`);
          ids.push(id);
          await store.append([
            { streamId: id, expected: ExpectedVersion.noStream, events: [testEvent('Opened')] },
          ]);
          await store.append([
            { streamId: id, expected: ExpectedVersion.exact(1), events: [testEvent('Moved')] },
          ]);
          expect((await store.readStreams([id])).versions.get(id)).toBe(2);
        }),
      );
      const { events } = await store.read({ items: [{ types: ['Opened'] }] });
      expect(events).toHaveLength(24);
      await store.append([], {
        events: [testEvent('Noted')],
        condition: {
          failIfEventsMatch: { items: [{ types: ['Noted'] }] },
          after: events.at(-1)!.globalPosition,
        },
      });
      let page = await store.readAll({ limit: 10 });
      let seen = page.events.length;
      while (!page.isEnd) {
        page = await store.readAll({ after: page.next, limit: 10 });
        seen += page.events.length;
      }
      expect(seen).toBe(49);
      expect((await store.health()).schemaVersion).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('refuses named prepared statements with the pooler option', async () => {
    await expect(
      createPostgresEventStore({
        connectionString: url,
        pooler: 'transaction',
        preparedStatements: true,
      }),
    ).rejects.toThrow(/preparedStatements/);
  });

  it('storage elects projections with a lease row and commits checkpoints through it', async () => {
    const storage = await createPostgresStorage({ connectionString: url, pooler: 'transaction' });
    const other = await createPostgresStorage({ connectionString: url, pooler: 'transaction' });
    let store: PostgresEventStore | undefined;
    try {
      store = storage.eventStore;
      expect(storage.projectionLock).toBeInstanceOf(PostgresLeaseLock);
      expect(storage.description).toContain('transaction-mode pooler');
      const lease = await storage.projectionLock.tryAcquire('balances');
      expect(lease?.isHeld()).toBe(true);
      // The other instance stands by, whichever server session its statements land on.
      expect(await other.projectionLock.tryAcquire('balances')).toBeUndefined();
      const page = await store.readAll({ limit: 1 });
      await storage.checkpointStore.commit('balances', undefined, page.next, async (tx) => {
        await tx.query('SELECT 1');
      });
      expect(await other.checkpointStore.load('balances')).toBe(page.next);
      await lease!.release();
      expect(await other.projectionLock.tryAcquire('balances')).toBeDefined();
    } finally {
      await Promise.all([storage.close(), other.close()]);
      await Promise.all([storage.eventStore.close(), other.eventStore.close()]);
    }
  });
});
