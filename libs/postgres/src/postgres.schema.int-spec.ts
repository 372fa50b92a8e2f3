import { ExpectedVersion, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { Client, type Pool } from 'pg';
import { createPostgresEventStore } from './postgres.factory';
import { PgPoolSqlExecutor } from './executor/pg-pool.sql-executor';
import { migrate } from './schema/migrate';
import { CURRENT_SCHEMA_VERSION, SCHEMA_MIGRATIONS } from './schema/migrations';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

describeWithServer('PostgreSQL schema, immutability, health and hostile input (server)', () => {
  let database: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = database.pool({ max: 8 });
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('migrates idempotently, also from several processes at once, and records the version', async () => {
    const executor = new PgPoolSqlExecutor(pool, false);
    const versions = await Promise.all(
      [1, 2, 3].map(() => migrate(executor, { schema: 'migrated' })),
    );
    expect(versions).toEqual([1, 2, 3].map(() => CURRENT_SCHEMA_VERSION));
    await expect(migrate(executor, { schema: 'migrated' })).resolves.toBe(CURRENT_SCHEMA_VERSION);
    const rows = (
      await pool.query('SELECT version, name FROM migrated.schema_version ORDER BY version')
    ).rows;
    expect(rows).toEqual(SCHEMA_MIGRATIONS.map(({ version, name }) => ({ version, name })));
  });

  it('refuses UPDATE, DELETE and TRUNCATE on events unless the administrative setting is on', async () => {
    const store = await createPostgresEventStore({ pool, schema: 'immutable' });
    await store.append([
      { streamId: streamId('s'), expected: ExpectedVersion.any, events: [testEvent('E')] },
    ]);
    for (const sql of [
      `UPDATE immutable.events SET type = 'Changed'`,
      `DELETE FROM immutable.events`,
      `TRUNCATE immutable.events`,
    ]) {
      await expect(pool.query(sql)).rejects.toThrow(/events are immutable/);
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL eventcore.allow_event_mutation = 'on'`);
      const deleted = await client.query('DELETE FROM immutable.events');
      expect(deleted.rowCount).toBe(1);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect((await store.readStreams([streamId('s')])).events).toHaveLength(1);
    await store.close();
  });

  it('reports health: ping, pool, schema version and the age of the oldest open write transaction', async () => {
    const store = await createPostgresEventStore({
      connectionString: database.url,
      schema: 'healthy',
      poolSize: 3,
    });
    const idle = await store.health();
    expect(idle).toMatchObject({ schemaVersion: CURRENT_SCHEMA_VERSION, circuit: 'closed' });
    expect(idle.pingMs).toBeGreaterThanOrEqual(0);
    expect(idle.pool.total).toBeGreaterThanOrEqual(1);
    expect(idle.pool.waiting).toBe(0);

    const open = new Client({ connectionString: database.url });
    await open.connect();
    try {
      await open.query('BEGIN');
      await open.query('SELECT pg_current_xact_id()'); // holds a transaction id: stalls readAll
      const stalled = await store.health();
      expect(stalled.oldestTransactionAgeSeconds).toBeGreaterThan(0);
      expect(stalled.oldestWriteTransactionAgeSeconds).toBeGreaterThan(0);
    } finally {
      await open.query('ROLLBACK');
      await open.end();
      await store.close();
    }
  });

  it("stores stream ids, types, data and filters full of `'; drop table` verbatim", async () => {
    const store = await createPostgresEventStore({ pool, schema: 'hostile' });
    const evil = `x'; DROP TABLE hostile.events; --`;
    const id = streamId(`${evil} \\ "quoted" ünï`);
    const event = testEvent(
      `${evil} type`,
      { text: evil, nested: { [evil]: [evil, '\\', `'`] } },
      {
        metadata: {
          correlationId: evil,
          causationId: `${evil}"`,
          userId: evil,
          custom: { [evil]: evil },
        },
      },
    );
    await store.append([{ streamId: id, expected: ExpectedVersion.noStream, events: [event] }]);
    const read = await store.readStreams([id]);
    expect(read.events).toHaveLength(1);
    expect(read.events[0]).toMatchObject({
      streamId: id,
      type: event.type,
      data: event.data,
      metadata: event.metadata,
    });
    const filtered = await store.readAll({
      limit: 10,
      filter: { streamPrefixes: [evil], eventTypes: [event.type] },
    });
    expect(filtered.events.map((e) => e.id)).toEqual([event.id]);
    const byCorrelation = await pool.query(
      `SELECT count(*)::int AS n FROM hostile.events WHERE metadata ->> 'correlationId' = $1`,
      [evil],
    );
    expect(byCorrelation.rows[0]).toEqual({ n: 1 });
    await store.close();
  });

  it('keeps the pool it was given open after close()', async () => {
    const store = await createPostgresEventStore({ pool, schema: 'borrowed' });
    await store.close();
    await expect(pool.query('SELECT 1')).resolves.toBeDefined();
  });
});
