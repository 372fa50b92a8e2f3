import {
  ArchiveRefusedError,
  ConcurrencyConflictError,
  type EventToAppend,
  ExpectedVersion,
  InvalidAppendError,
  StreamArchivedError,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { Pool } from 'pg';
import { createPostgresEventStore } from './postgres.factory';
import type { PostgresEventStore } from './postgres.event-store';
import { batchParams } from './sql/append-batch';
import { encodeAppend } from './sql/append-request';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';
import { SCHEMA_MIGRATIONS } from './schema/migrations';
import { quoted } from './schema/schema-name';

/** Clients racing in each test: each its own store (own batcher), all on one pool. */
const CLIENTS = 16;

describeWithServer('PostgreSQL hot and archived partitions (server)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let schemas = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = database.pool({ max: CLIENTS + 4 });
  });

  afterAll(async () => {
    await database?.drop();
  });

  async function stores(count: number): Promise<PostgresEventStore[]> {
    const schema = `archive_${++schemas}`;
    const list: PostgresEventStore[] = [];
    for (let i = 0; i < count; i++) list.push(await createPostgresEventStore({ pool, schema }));
    return list;
  }

  const closeAll = (list: readonly PostgresEventStore[]) => Promise.all(list.map((s) => s.close()));

  async function partitionCounts(schema: string, stream: string) {
    const { rows } = await pool.query<{ hot: number; archived: number }>(
      `SELECT (SELECT count(*)::int FROM ${quoted(schema)}.events_hot WHERE stream_id = $1) AS hot,
              (SELECT count(*)::int FROM ${quoted(schema)}.events_archived WHERE stream_id = $1) AS archived`,
      [stream],
    );
    return rows[0]!;
  }

  const settled = (promises: readonly Promise<unknown>[]) =>
    Promise.allSettled(promises).then((results) =>
      results.map((r) => (r.status === 'fulfilled' ? 'ok' : r.reason)),
    );

  it('gives a new store a partitioned events table; archiving moves a stream out of the hot partition', async () => {
    const [store] = await stores(1);
    const { rows } = await pool.query<{ relkind: string }>(
      `SELECT c.relkind FROM pg_class AS c WHERE c.oid = $1::regclass`,
      [`${quoted(store!.schema)}.events`],
    );
    expect(rows[0]!.relkind).toBe('p');
    const A = streamId('account-1');
    for (let i = 0; i < 3; i++) {
      await store!.append([
        { streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] },
      ]);
    }
    expect(await partitionCounts(store!.schema, A)).toEqual({ hot: 3, archived: 0 });
    await store!.archiveStream(A);
    expect(await partitionCounts(store!.schema, A)).toEqual({ hot: 0, archived: 3 });
    await closeAll([store!]);
  });

  it('lets exactly one of many racing appends take a stream version', async () => {
    const list = await stores(CLIENTS);
    const A = streamId('race-version');
    const results = await settled(
      list.map((s) =>
        s.append([{ streamId: A, expected: ExpectedVersion.noStream, events: [testEvent('E')] }]),
      ),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r instanceof ConcurrencyConflictError)).toHaveLength(CLIENTS - 1);
    expect(await partitionCounts(list[0]!.schema, A)).toEqual({ hot: 1, archived: 0 });
    await closeAll(list);
  });

  it('lets exactly one of many racing appends store an event id, and none once it is archived', async () => {
    const list = await stores(CLIENTS);
    const event = testEvent('Once');
    const copyTo = (s: PostgresEventStore, i: number, e: EventToAppend) =>
      s.append([{ streamId: streamId(`dup-${i}`), expected: ExpectedVersion.any, events: [e] }]);
    const first = await settled(list.map((s, i) => copyTo(s, i, { ...event })));
    expect(first.filter((r) => r === 'ok')).toHaveLength(1);
    expect(first.filter((r) => r instanceof InvalidAppendError)).toHaveLength(CLIENTS - 1);

    const owner = `dup-${first.indexOf('ok')}`;
    await list[0]!.archiveStream(streamId(owner));
    const again = await settled(list.map((s, i) => copyTo(s, i + CLIENTS, { ...event })));
    expect(again.every((r) => r instanceof InvalidAppendError)).toBe(true);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM ${quoted(list[0]!.schema)}.events WHERE event_id = $1`,
      [event.id],
    );
    expect(rows[0]).toEqual({ n: 1 });
    await closeAll(list);
  });

  it('never stores an event id twice while its stream is being archived', async () => {
    for (let round = 0; round < 5; round++) {
      const list = await stores(CLIENTS);
      const event = testEvent('Moving');
      const A = streamId('moving');
      await list[0]!.append([{ streamId: A, expected: ExpectedVersion.any, events: [event] }]);
      const results = await settled([
        list[0]!.archiveStream(A),
        ...list.slice(1).map((s, i) =>
          s.append([
            {
              streamId: streamId(`other-${i}`),
              expected: ExpectedVersion.any,
              events: [{ ...event }],
            },
          ]),
        ),
      ]);
      expect(results[0]).toBe('ok');
      expect(results.slice(1).every((r) => r instanceof InvalidAppendError)).toBe(true);
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM ${quoted(list[0]!.schema)}.events WHERE event_id = $1`,
        [event.id],
      );
      expect(rows[0]).toEqual({ n: 1 });
      await closeAll(list);
    }
  });

  it('refuses every append that comes after a racing archive, and moves all the others', async () => {
    const list = await stores(CLIENTS);
    const A = streamId('closing');
    await list[0]!.append([
      { streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] },
    ]);
    const results = await settled([
      ...list
        .slice(1, CLIENTS / 2)
        .map((s) =>
          s.append([{ streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] }]),
        ),
      list[0]!.archiveStream(A),
      ...list
        .slice(CLIENTS / 2)
        .map((s) =>
          s.append([{ streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] }]),
        ),
    ]);
    const appends = results.filter((_, i) => i !== CLIENTS / 2 - 1);
    const written = appends.filter((r) => r === 'ok').length;
    expect(appends.filter((r) => r instanceof StreamArchivedError)).toHaveLength(
      appends.length - written,
    );
    // Every event written before the archive moved with it; none was written after.
    expect(await partitionCounts(list[0]!.schema, A)).toEqual({ hot: 0, archived: 1 + written });
    const read = await list[0]!.readStreams([A]);
    expect(read.events.map((e) => e.streamVersion)).toEqual(
      Array.from({ length: 1 + written }, (_, i) => i + 1),
    );
    await closeAll(list);
  });

  it('refuses to archive while a projection has not passed the stream’s last event', async () => {
    const [store] = await stores(1);
    const s = quoted(store!.schema);
    const A = streamId('watched');
    const first = await store!.append([
      { streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] },
    ]);
    const last = await store!.append([
      { streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] },
    ]);
    await pool.query(
      `INSERT INTO ${s}.checkpoints (projection, position) VALUES ('behind', $1), ('rebuilding', NULL), ('done', $2)`,
      [first.position, last.position],
    );
    const refusal = await store!.archiveStream(A).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ArchiveRefusedError);
    expect(refusal).toMatchObject({
      reason: 'projections-behind',
      projections: ['behind', 'rebuilding'],
    });
    expect(await partitionCounts(store!.schema, A)).toEqual({ hot: 2, archived: 0 });
    await store!.append([{ streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] }]);

    const head = await store!.readStreams([A]);
    await pool.query(`UPDATE ${s}.checkpoints SET position = $1`, [head.position]);
    await expect(store!.archiveStream(A)).resolves.toMatchObject({ archivedEvents: 3 });
    await closeAll([store!]);
  });

  it('refuses writes to an archived stream through the version 6 functions of an older library', async () => {
    const [store] = await stores(1);
    const A = streamId('old-library');
    await store!.append([{ streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] }]);
    await store!.archiveStream(A);
    const request = encodeAppend([
      { streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] },
    ]);
    await expect(
      pool.query(
        `SELECT * FROM ${quoted(store!.schema)}.append_batch_v6($1::integer[], $2::text[], $3::text[], $4::bigint[], $5::integer[], $6::integer[], $7::integer[], $8::uuid[], $9::text[], $10::integer[], $11::jsonb[], $12::jsonb[], $13::timestamptz[], $14::text[], $15::text[], $16::text[], $17::integer[], $18::boolean)`,
        [...batchParams([request]), false],
      ),
    ).rejects.toThrow(/is archived/);
    expect(await partitionCounts(store!.schema, A)).toEqual({ hot: 0, archived: 1 });
    await closeAll([store!]);
  });

  it('keeps a store that had events before version 8 unpartitioned and working, archiving by flag', async () => {
    const schema = `legacy_${++schemas}`;
    const s = quoted(schema);
    for (const migration of SCHEMA_MIGRATIONS.filter((m) => m.version < 8)) {
      for (const statement of migration.up(schema)) await pool.query(statement);
    }
    await pool.query(
      `INSERT INTO ${s}.events (global_position, stream_id, stream_version, event_id, type, data, metadata, occurred_at)
       VALUES (nextval('${s}.events_position_seq'), 'old', 1, gen_random_uuid(), 'E', '{}', '{}', now())`,
    );
    await pool.query(`INSERT INTO ${s}.streams (stream_id, version) VALUES ('old', 1)`);
    const store = await createPostgresEventStore({ pool, schema });
    const { rows } = await pool.query<{ relkind: string }>(
      `SELECT c.relkind FROM pg_class AS c WHERE c.oid = $1::regclass`,
      [`${s}.events`],
    );
    expect(rows[0]!.relkind).toBe('r');
    const old = streamId('old');
    await store.append([
      { streamId: old, expected: ExpectedVersion.exact(1), events: [testEvent('E')] },
    ]);
    await expect(store.archiveStream(old)).resolves.toMatchObject({ archivedEvents: 2 });
    await expect(
      store.append([{ streamId: old, expected: ExpectedVersion.any, events: [testEvent('E')] }]),
    ).rejects.toBeInstanceOf(StreamArchivedError);
    const page = await store.readAll({ limit: 10 });
    expect(page.events.map((e) => e.streamVersion)).toEqual([1, 2]);
    const hot = await store.readAll({ limit: 10, filter: { includeArchived: false } });
    expect(hot.events).toEqual([]);
    await store.close();
  });
  it('applies a retention policy by closing event and age, deferring streams a projection still needs', async () => {
    const [store] = await stores(1);
    const s = quoted(store!.schema);
    const append = (id: string, type: string) =>
      store!.append([
        { streamId: streamId(id), expected: ExpectedVersion.any, events: [testEvent(type)] },
      ]);
    await append('closed-old', 'Opened');
    await append('closed-old', 'AccountClosed');
    await append('open-old', 'Opened');
    const mid = await append('closed-new', 'AccountClosed');
    // Age two streams by 40 days (an administrative change, as a restore from last month would be).
    await pool.query(
      `BEGIN; SET LOCAL eventcore.allow_event_mutation = 'on';
       UPDATE ${s}.events SET recorded_at = recorded_at - interval '40 days' WHERE stream_id IN ('closed-old', 'open-old');
       COMMIT`,
    );
    await expect(store!.applyRetention({ afterDays: -1 })).rejects.toThrow(/retention.afterDays/);

    const closed = await store!.applyRetention({ closedBy: ['AccountClosed'], afterDays: 30 });
    expect(closed).toEqual({ archived: ['closed-old'], archivedEvents: 2, deferred: [] });

    const last = await append('open-old-2', 'Opened');
    await pool.query(
      `BEGIN; SET LOCAL eventcore.allow_event_mutation = 'on';
       UPDATE ${s}.events SET recorded_at = recorded_at - interval '40 days' WHERE stream_id = 'open-old-2';
       COMMIT`,
    );
    await pool.query(`INSERT INTO ${s}.checkpoints (projection, position) VALUES ('p', $1)`, [
      mid.position,
    ]);
    const byAge = await store!.applyRetention({ afterDays: 30 });
    // The checkpoint is past open-old's last event but not past open-old-2's.
    expect(byAge.archived).toEqual(['open-old']);
    expect(byAge.deferred).toEqual([{ streamId: 'open-old-2', projections: ['p'] }]);
    await pool.query(`UPDATE ${s}.checkpoints SET position = $1`, [last.position]);
    await expect(store!.applyRetention({ afterDays: 30 })).resolves.toMatchObject({
      archived: ['open-old-2'],
    });
    await closeAll([store!]);
  });
});
