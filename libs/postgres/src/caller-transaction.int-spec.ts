import {
  AppendConditionFailedError,
  type EventQuery,
  ExpectedVersion,
  type RecordedEvent,
  streamId,
  type StreamWrite,
  UnsupportedTransactionError,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { PgPoolSqlExecutor } from './executor/pg-pool.sql-executor';
import { PostgresEventStore } from './postgres.event-store';
import { createPostgresEventStore } from './postgres.factory';
import { notificationChannel } from './schema/schema-name';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

/*
 * appendInTransaction: events appended inside a transaction the application holds commit (or roll
 * back) with its own rows, never by the store's doing, and never out of log order.
 */
describeWithServer("appendInTransaction: the caller's own transaction (server)", () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  /** The application's own pool (its transactions), separate from the store's. */
  let app: Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await createPostgresEventStore({ connectionString: database.url });
    app = database.pool({ max: 8 });
    await app.query(`CREATE TABLE orders (id text PRIMARY KEY, total int NOT NULL);
                     CREATE TABLE outbox (id bigserial PRIMARY KEY, message text NOT NULL)`);
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const placed = (order: string): StreamWrite => ({
    streamId: streamId(`order-${order}`),
    expected: ExpectedVersion.noStream,
    events: [testEvent('OrderPlaced', { order })],
  });

  /** A client of the application's pool in `BEGIN <mode>`; released (after ROLLBACK if still open) by `done`. */
  async function begin(mode = ''): Promise<PoolClient & { done(): Promise<void> }> {
    const client = await app.connect();
    await client.query(`BEGIN ${mode}`);
    return Object.assign(client, {
      async done() {
        if (client.getTransactionStatus() !== 'I') await client.query('ROLLBACK');
        client.release();
      },
    });
  }

  const version = async (order: string) =>
    (await store.readStreams([streamId(`order-${order}`)])).versions.get(
      streamId(`order-${order}`),
    );
  const orders = async (id: string) =>
    (await app.query('SELECT total FROM orders WHERE id = $1', [id])).rows;

  it('commits the events with a business row and an outbox message, and notifies at commit only', async () => {
    const listener = await app.connect();
    const heard: string[] = [];
    listener.on('notification', (message) => heard.push(message.payload ?? ''));
    await listener.query(`LISTEN "${notificationChannel(store.schema)}"`);
    const tx = await begin();
    try {
      const result = await store.appendInTransaction(tx, [placed('a1')]);
      await tx.query("INSERT INTO orders VALUES ('a1', 42)");
      await tx.query("INSERT INTO outbox (message) VALUES ('order a1 placed')");
      // Nothing is visible, or announced, before the caller commits.
      expect(await version('a1')).toBe(0);
      expect(await orders('a1')).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(heard).toEqual([]);
      // The store never ended the transaction: the caller does.
      expect(tx.getTransactionStatus()).toBe('T');
      await tx.query('COMMIT');

      expect(await version('a1')).toBe(1);
      expect(await orders('a1')).toEqual([{ total: 42 }]);
      const { events } = await store.readStreams([streamId('order-a1')]);
      expect(events.map((e) => e.globalPosition)).toEqual([result.events[0]!.globalPosition]);
      await eventually(() => heard.length === 1, 'the notification');
      expect(heard).toEqual([result.position]);
    } finally {
      await tx.done();
      listener.release();
    }
  });

  it("leaves nothing when the caller's transaction rolls back", async () => {
    const tx = await begin();
    try {
      await store.appendInTransaction(tx, [placed('r1')]);
      await tx.query("INSERT INTO orders VALUES ('r1', 7)");
      await tx.query('ROLLBACK');
    } finally {
      await tx.done();
    }
    expect(await version('r1')).toBe(0);
    expect(await orders('r1')).toEqual([]);
    // The stream is still new: the same append succeeds in a later transaction.
    const again = await begin();
    try {
      await store.appendInTransaction(again, [placed('r1')]);
      await again.query('COMMIT');
    } finally {
      await again.done();
    }
    expect(await version('r1')).toBe(1);
  });

  it('refuses a write before the append (and a second append), writing nothing; the transaction stays usable', async () => {
    const tx = await begin();
    try {
      await tx.query("INSERT INTO orders VALUES ('w1', 1)");
      const refused = await store.appendInTransaction(tx, [placed('w1')]).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UnsupportedTransactionError);
      expect(refused).toMatchObject({
        code: 'eventcore.unsupported_transaction',
        reason: 'written-before-append',
        message: expect.stringContaining('Append first'),
      });
      // Not aborted: the caller goes on and commits its own row.
      await tx.query("INSERT INTO orders VALUES ('w2', 2)");
      await tx.query('COMMIT');
    } finally {
      await tx.done();
    }
    expect(await version('w1')).toBe(0);
    expect(await orders('w2')).toEqual([{ total: 2 }]);

    const twice = await begin();
    try {
      await store.appendInTransaction(twice, [placed('t1')]);
      await expect(store.appendInTransaction(twice, [placed('t2')])).rejects.toMatchObject({
        reason: 'written-before-append',
      });
      await twice.query('COMMIT');
    } finally {
      await twice.done();
    }
    expect([await version('t1'), await version('t2')]).toEqual([1, 0]);
  });

  it.each(['REPEATABLE READ', 'SERIALIZABLE'])('refuses %s, writing nothing', async (level) => {
    const tx = await begin(`ISOLATION LEVEL ${level}`);
    try {
      await expect(store.appendInTransaction(tx, [placed('i1')])).rejects.toMatchObject({
        code: 'eventcore.unsupported_transaction',
        reason: 'isolation',
        isolation: level.toLowerCase(),
      });
      await tx.query('SELECT 1'); // still usable
    } finally {
      await tx.done();
    }
    expect(await version('i1')).toBe(0);
  });

  it('refuses a connection with no transaction open, and a failed transaction', async () => {
    const client = await app.connect();
    try {
      await expect(store.appendInTransaction(client, [placed('n1')])).rejects.toMatchObject({
        reason: 'no-transaction',
      });
      await client.query('BEGIN');
      await client.query('SELECT 1/0').catch(() => undefined);
      await expect(store.appendInTransaction(client, [placed('n1')])).rejects.toMatchObject({
        reason: 'aborted',
      });
      // pg updates the status on the message after the error: the server's answer decides too.
      const stale = { query: client.query.bind(client), getTransactionStatus: () => 'T' };
      await expect(store.appendInTransaction(stale, [placed('n1')])).rejects.toMatchObject({
        reason: 'aborted',
      });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await version('n1')).toBe(0);
  });

  it('a slow caller transaction: a subscriber never skips its event, and positions rise in log order', async () => {
    const received: RecordedEvent[] = [];
    let reading = true;
    const subscriber = (async () => {
      let after: Awaited<ReturnType<typeof store.readAll>>['next'] | undefined;
      const start = await store.readAll({ limit: 10_000 });
      after = start.next;
      while (reading) {
        const page = await store.readAll({ after, limit: 50 });
        received.push(...page.events);
        after = page.next;
        if (page.events.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    const tx = await begin();
    let slow: RecordedEvent;
    const later: RecordedEvent[] = [];
    try {
      slow = (await store.appendInTransaction(tx, [placed('slow')])).events[0]!;
      // Appends that take later positions and commit while the caller's transaction stays open.
      for (let i = 0; i < 20; i++) {
        const { events } = await store.append([placed(`fast-${i}`)]);
        later.push(...events);
      }
      await tx.query("INSERT INTO orders VALUES ('slow', 3)");
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // Held back, not skipped: nothing after the open transaction's event has been handed out.
      expect(received.filter((e) => e.globalPosition > slow.globalPosition)).toEqual([]);
      await tx.query('COMMIT');
    } finally {
      await tx.done();
    }
    await eventually(() => received.length >= 21, 'the subscriber reads all 21 events');
    reading = false;
    await subscriber;

    const positions = received.map((e) => e.globalPosition);
    expect(positions).toEqual([slow!, ...later].map((e) => e.globalPosition).sort((a, b) => a - b));
    expect(positions[0]).toBe(slow!.globalPosition);
    for (let i = 1; i < positions.length; i++) {
      expect(positions[i]).toBeGreaterThan(positions[i - 1]!);
    }
  });

  it("holds a DCB condition inside the caller's transaction until it commits", async () => {
    const query: EventQuery = { items: [{ types: ['SeatBooked'], tags: ['course:dcb1'] }] };
    const booked = () => testEvent('SeatBooked', { course: 'dcb1' }, { tags: ['course:dcb1'] });
    const { events } = await store.read(query);
    const after = events.at(-1)?.globalPosition;
    const condition = { failIfEventsMatch: query, ...(after === undefined ? {} : { after }) };

    const first = await begin();
    const second = await begin();
    try {
      await store.appendInTransaction(first, [], { events: [booked()], condition });
      // The same decision in another caller's transaction waits for the first's lock...
      let settled = false;
      const racing = store
        .appendInTransaction(second, [], { events: [booked()], condition })
        .finally(() => (settled = true));
      racing.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
      await first.query("INSERT INTO orders VALUES ('dcb1', 1)");
      await first.query('COMMIT');
      // ...and fails once the first committed: its condition now sees that event.
      await expect(racing).rejects.toBeInstanceOf(AppendConditionFailedError);
      await second.query('ROLLBACK');
    } finally {
      await first.done();
      await second.done();
    }
    expect((await store.read(query)).events).toHaveLength(1);
  });

  it("refuses a store built by hand over the caller's connection: it would end the transaction", async () => {
    const tx = await begin();
    // A "pool" that hands out the caller's client, as a hand-built executor over it would (its
    // release is kept from returning the client to the app's pool while the test still uses it).
    const release = tx.release;
    tx.release = () => undefined;
    const pool = { connect: async () => tx, totalCount: 1, idleCount: 0, waitingCount: 0 };
    const handBuilt = new PostgresEventStore(new PgPoolSqlExecutor(pool as unknown as Pool, false));
    try {
      await tx.query("INSERT INTO orders VALUES ('h1', 9)");
      await expect(handBuilt.append([placed('h1')])).rejects.toMatchObject({
        code: 'eventcore.invalid_options',
        message: expect.stringContaining('appendInTransaction'),
      });
      await new Promise((resolve) => setTimeout(resolve, 50)); // a NOTIFY transaction would be sent by now
      // Not committed behind the caller's back: its row is invisible outside and the block is open.
      expect(tx.getTransactionStatus()).toBe('T');
      expect(await orders('h1')).toEqual([]);
    } finally {
      await handBuilt.close(); // after anything it still had in flight on the client
      tx.release = release;
      await tx.done();
    }
    expect(await version('h1')).toBe(0);
  });

  describe('with TypeORM', () => {
    let dataSource: DataSource;

    beforeAll(async () => {
      dataSource = new DataSource({ type: 'postgres', url: database.url });
      await dataSource.initialize();
    });

    afterAll(async () => {
      await dataSource?.destroy();
    });

    it("appends in an EntityManager's transaction, committed or rolled back with it", async () => {
      await dataSource.transaction(async (manager) => {
        await store.appendInTransaction(manager, [placed('orm1')]);
        await manager.query("INSERT INTO orders VALUES ('orm1', 5)");
      });
      expect([await version('orm1'), await orders('orm1')]).toEqual([1, [{ total: 5 }]]);

      await expect(
        dataSource.transaction(async (manager) => {
          await store.appendInTransaction(manager, [placed('orm2')]);
          await manager.query("INSERT INTO orders VALUES ('orm2', 6)");
          throw new Error('a business rule failed after the append');
        }),
      ).rejects.toThrow('a business rule failed');
      expect([await version('orm2'), await orders('orm2')]).toEqual([0, []]);
    });

    it('appends through a QueryRunner in a transaction; refuses one without', async () => {
      const runner = dataSource.createQueryRunner();
      await runner.connect();
      try {
        await expect(store.appendInTransaction(runner, [placed('qr1')])).rejects.toMatchObject({
          reason: 'no-transaction',
        });
        await runner.startTransaction();
        const { events } = await store.appendInTransaction(runner, [placed('qr1')]);
        await runner.query("INSERT INTO orders VALUES ('qr1', 8)");
        await runner.commitTransaction();
        expect((await store.readStreams([streamId('order-qr1')])).events).toEqual(events);
      } finally {
        await runner.release();
      }
      // The data source's own manager runs each query on any pooled connection: no transaction.
      await expect(
        store.appendInTransaction(dataSource.manager, [placed('m1')]),
      ).rejects.toMatchObject({ reason: 'no-transaction' });
      expect(await version('m1')).toBe(0);
    });
  });
});

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
