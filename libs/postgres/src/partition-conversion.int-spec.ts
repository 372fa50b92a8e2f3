import { ExpectedVersion, StreamArchivedError, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { Pool } from 'pg';
import { PgPoolSqlExecutor } from './executor/pg-pool.sql-executor';
import type { SqlExecutor, SqlQueryable } from './executor/sql-executor';
import { createPostgresEventStore } from './postgres.factory';
import { type ConversionProgress, convertEventsToPartitioned } from './schema/partition-conversion';
import { SCHEMA_MIGRATIONS } from './schema/migrations';
import { quoted } from './schema/schema-name';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

/**
 * An executor whose `killAt`-th copy batch dies with its connection (the server ends the backend
 * in the middle of the batch's transaction), as when the converting process is killed.
 */
class DyingExecutor extends PgPoolSqlExecutor {
  private batches = 0;
  constructor(
    pool: Pool,
    private readonly killAt: number,
  ) {
    super(pool, false);
  }
  override transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return super.transaction((tx) =>
      work({
        query: async <R>(text: string, params?: readonly unknown[]) => {
          if (text.includes('UPDATE') && text.includes('partition_conversion AS p')) {
            if (++this.batches === this.killAt) {
              await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
            }
          }
          return tx.query<R>(text, params);
        },
      }),
    );
  }
}

describeWithServer('Converting an events table to partitions (server)', () => {
  let database: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = database.pool({ max: 6 });
  });

  afterAll(async () => {
    await database?.drop();
  });

  /** A store migrated to version 7 with `count` events in 10 streams, then to version 8. */
  async function legacyStore(schema: string, count: number) {
    const s = quoted(schema);
    for (const migration of SCHEMA_MIGRATIONS.filter((m) => m.version < 8)) {
      for (const statement of migration.up(schema)) await pool.query(statement);
    }
    await pool.query(
      `INSERT INTO ${s}.events (global_position, stream_id, stream_version, event_id, type, data, metadata, occurred_at)
       SELECT nextval('${s}.events_position_seq'), 'stream-' || (n % 10), n / 10 + 1, gen_random_uuid(), 'E',
              jsonb_build_object('n', n), '{}', now()
         FROM generate_series(0, $1 - 1) AS n`,
      [count],
    );
    await pool.query(
      `INSERT INTO ${s}.streams (stream_id, version)
       SELECT stream_id, max(stream_version) FROM ${s}.events GROUP BY stream_id`,
    );
    return createPostgresEventStore({ pool, schema });
  }

  async function relkind(schema: string): Promise<string> {
    const { rows } = await pool.query<{ relkind: string }>(
      `SELECT relkind FROM pg_class WHERE oid = $1::regclass`,
      [`${quoted(schema)}.events`],
    );
    return rows[0]!.relkind;
  }

  it('copies in batches, resumes after a killed batch, catches up and swaps, losing nothing', async () => {
    const schema = 'converted';
    const s = quoted(schema);
    const store = await legacyStore(schema, 1000);
    const before = await store.readAll({ limit: 10_000 });
    expect(await relkind(schema)).toBe('r');

    // Killed in the middle of its fourth batch: three batches are recorded, the fourth is not.
    const dying = new DyingExecutor(pool, 4);
    await expect(convertEventsToPartitioned(dying, { schema, batchSize: 100 })).rejects.toThrow();
    const { rows: progress } = await pool.query(
      `SELECT copied::int FROM ${s}.partition_conversion`,
    );
    expect(progress).toEqual([{ copied: 300 }]);

    // Writes go on between runs; one stream is archived before the swap.
    const late = streamId('late');
    await store.append([
      { streamId: late, expected: ExpectedVersion.any, events: [testEvent('L')] },
    ]);
    await store.archiveStream(streamId('stream-3'));

    const steps: ConversionProgress[] = [];
    const executor = new PgPoolSqlExecutor(pool, false);
    const result = await convertEventsToPartitioned(executor, {
      schema,
      batchSize: 100,
      onProgress: (p) => steps.push(p),
    });
    expect(result.phase).toBe('swapped');
    expect(result.copied).toBe(1001);
    expect(steps[0]).toEqual({ phase: 'copying', copied: 400 });
    expect(await relkind(schema)).toBe('p');

    const after = await store.readAll({ limit: 10_000 });
    expect(after.events.map((e) => e.id)).toEqual([
      ...before.events.map((e) => e.id),
      expect.any(String),
    ]);
    const { rows } = await pool.query(
      `SELECT (SELECT count(*)::int FROM ${s}.events_hot) AS hot,
              (SELECT count(*)::int FROM ${s}.events_archived) AS archived,
              to_regclass('${s}.partition_conversion') IS NULL AS cleaned`,
    );
    expect(rows[0]).toEqual({ hot: 901, archived: 100, cleaned: true });

    // The store goes on: appends, the archived stream's refusal, and a second run that does nothing.
    await store.append([
      { streamId: late, expected: ExpectedVersion.exact(1), events: [testEvent('L')] },
    ]);
    await expect(
      store.append([
        { streamId: streamId('stream-3'), expected: ExpectedVersion.any, events: [testEvent('X')] },
      ]),
    ).rejects.toBeInstanceOf(StreamArchivedError);
    await expect(pool.query(`DELETE FROM ${s}.events_hot`)).rejects.toThrow(/immutable/);
    await expect(convertEventsToPartitioned(executor, { schema })).resolves.toMatchObject({
      phase: 'already-partitioned',
    });
    await store.close();
  });

  it('loses and duplicates no event appended by concurrent writers while it copies and swaps', async () => {
    const schema = 'busy';
    const store = await legacyStore(schema, 2000);
    const writers = await Promise.all(
      [1, 2, 3, 4].map(() => createPostgresEventStore({ pool, schema })),
    );
    const written: string[] = [];
    let converting = true;
    const load = writers.map(async (writer, w) => {
      for (let i = 0; converting || i < 5; i++) {
        const event = testEvent('Busy');
        await writer.append([
          { streamId: streamId(`busy-${w}`), expected: ExpectedVersion.any, events: [event] },
        ]);
        written.push(event.id);
      }
    });
    const result = await convertEventsToPartitioned(new PgPoolSqlExecutor(pool, false), {
      schema,
      batchSize: 50,
    });
    converting = false;
    await Promise.all(load);
    expect(result.phase).toBe('swapped');
    expect(await relkind(schema)).toBe('p');

    const ids: string[] = [];
    let after;
    for (;;) {
      const page = await store.readAll({ after, limit: 1000 });
      ids.push(...page.events.map((e) => e.id));
      after = page.next;
      if (page.isEnd) break;
    }
    expect(ids).toHaveLength(2000 + written.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(2000).sort()).toEqual([...written].sort());
    for (let w = 0; w < 4; w++) {
      const read = await store.readStreams([streamId(`busy-${w}`)]);
      expect(read.events.map((e) => e.streamVersion)).toEqual(read.events.map((_, i) => i + 1));
    }
    await Promise.all([store, ...writers].map((s) => s.close()));
  });

  it('pauses after maxBatches and refuses a schema below version 8', async () => {
    const store = await legacyStore('sliced', 50);
    const executor: SqlExecutor = new PgPoolSqlExecutor(pool, false);
    await expect(
      convertEventsToPartitioned(executor, { schema: 'sliced', batchSize: 20, maxBatches: 2 }),
    ).resolves.toMatchObject({ phase: 'paused', copied: 40 });
    expect(await relkind('sliced')).toBe('r');
    await expect(
      convertEventsToPartitioned(executor, { schema: 'sliced', batchSize: 20 }),
    ).resolves.toMatchObject({ phase: 'swapped', copied: 50 });
    await store.close();

    for (const statement of SCHEMA_MIGRATIONS[0]!.up('old_one')) await pool.query(statement);
    await expect(convertEventsToPartitioned(executor, { schema: 'old_one' })).rejects.toThrow(
      /old_one is at version 0: run migrate\(\) \(version 8\)/,
    );
  });
});
