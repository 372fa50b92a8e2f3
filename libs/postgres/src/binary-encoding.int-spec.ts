import 'reflect-metadata';
import { encode } from '@msgpack/msgpack';
import {
  Command,
  type CommandContext,
  CommandExecutor,
  type CommandLogic,
  EventTypeRegistry,
  InMemoryProjectionLock,
  MessagePackSerializer,
  ProjectionWorker,
  type RecordedEvent,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { Pool } from 'pg';
import type { PostgresEventStore } from './postgres.event-store';
import { createPostgresEventStore } from './postgres.factory';
import { createPostgresCheckpointStore } from './projection/postgres.checkpoint-store';
import { PgPoolSqlExecutor } from './executor/pg-pool.sql-executor';
import { migrate } from './schema/migrate';
import { CURRENT_SCHEMA_VERSION, recordVersionSql, SCHEMA_MIGRATIONS } from './schema/migrations';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

type Reading = { readings: number[]; sensor: string };
type Sampled = { type: 'Sampled'; data: Reading };
type Billed = { type: 'Billed'; data: { amount: number } };

/** Stores its `Sampled` events as MessagePack; folds how many readings the stream holds. */
@Command({ validate: false })
class Sample implements CommandLogic<number, Sampled | Billed> {
  @Stream() sensor: StreamId = streamId('sensor-1');
  constructor(
    readonly readings: number[],
    readonly bill?: number,
  ) {}
  initialState(): number {
    return 0;
  }
  apply(count: number, event: RecordedEvent<Sampled | Billed>): number {
    if (event.type !== 'Sampled') return count;
    if (!Array.isArray(event.data.readings)) throw new Error('the fold saw undecoded data');
    return count + event.data.readings.length;
  }
  handle(count: number, ctx: CommandContext<Sampled | Billed, Sample>): void {
    ctx.emit('sensor', {
      type: 'Sampled',
      data: { readings: this.readings, sensor: `seen ${count}` },
    });
    if (this.bill !== undefined)
      ctx.emit('sensor', { type: 'Billed', data: { amount: this.bill } });
  }
}

const registry = () =>
  new EventTypeRegistry([{ type: 'Sampled', serializer: new MessagePackSerializer() }]);

describeWithServer('binary-encoded events on PostgreSQL (server)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = database.pool({ max: 2 });
    store = await createPostgresEventStore({ connectionString: database.url });
  });

  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  it('stores a MessagePack type as bytes, folds it decoded, and keeps JSON types queryable', async () => {
    const executor = new CommandExecutor(store, { events: registry() });
    const first = await executor.execute(new Sample([1.5, -2, 3e10], 12.5));
    expect(first.events.map((e) => e.encoding ?? 'json')).toEqual(['msgpack', 'json']);

    const rows = (
      await pool.query<{
        type: string;
        encoding: string;
        data: unknown;
        data_bytes: Buffer | null;
      }>('SELECT type, encoding, data, data_bytes FROM eventcore.events ORDER BY global_position')
    ).rows;
    expect(rows).toEqual([
      {
        type: 'Sampled',
        encoding: 'msgpack',
        data: null,
        data_bytes: Buffer.from(encode({ readings: [1.5, -2, 3e10], sensor: 'seen 0' })),
      },
      { type: 'Billed', encoding: 'json', data: { amount: 12.5 }, data_bytes: null },
    ]);

    // The second command reads the bytes back and folds the decoded readings (3 of them).
    const second = await executor.execute(new Sample([4], 7));
    expect(registry().upcast(second.events[0]!).data).toEqual({ readings: [4], sensor: 'seen 3' });

    // JSON events of other types are still jsonb: queryable and indexable with its operators.
    const billed = (
      await pool.query<{ amount: string; seven: boolean }>(
        `SELECT data->>'amount' AS amount, data @> '{"amount": 7}' AS seven FROM eventcore.events
          WHERE data ? 'amount' ORDER BY global_position`,
      )
    ).rows;
    expect(billed).toEqual([
      { amount: '12.5', seven: false },
      { amount: '7', seven: true },
    ]);
  });

  it('hands decoded data to a projection', async () => {
    const checkpoints = await createPostgresCheckpointStore(store);
    const seen: { type: string; data: unknown }[] = [];
    const worker = new ProjectionWorker(
      { name: 'readings', filter: { streamPrefixes: ['sensor-'] }, pollIntervalMs: 20 },
      { handle: (event) => void seen.push({ type: event.type, data: event.data }) },
      { store, checkpoints, lock: new InMemoryProjectionLock(), events: registry() },
    );
    worker.start();
    try {
      const deadline = Date.now() + 10_000;
      while (worker.status().state !== 'live' || seen.length < 4) {
        if (Date.now() > deadline)
          throw new Error(`projection not live: ${JSON.stringify(worker.status())}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await worker.stop();
    }
    expect(seen).toEqual([
      { type: 'Sampled', data: { readings: [1.5, -2, 3e10], sensor: 'seen 0' } },
      { type: 'Billed', data: { amount: 12.5 } },
      { type: 'Sampled', data: { readings: [4], sensor: 'seen 3' } },
      { type: 'Billed', data: { amount: 7 } },
    ]);
  });

  it('refuses rows whose encoding does not match the column holding the data', async () => {
    const inserts = [
      // JSON without jsonb data, binary without bytes, and both at once.
      `(NULL, 'json', NULL)`,
      `('{}', 'msgpack', NULL)`,
      `(NULL, 'msgpack', NULL)`,
      `('{}', 'json', '\\x00'::bytea)`,
      `('{}', 'msgpack', '\\x00'::bytea)`,
    ];
    for (const values of inserts) {
      await expect(
        pool.query(
          `INSERT INTO eventcore.events (global_position, stream_id, stream_version, event_id, type,
             metadata, occurred_at, data, encoding, data_bytes)
           SELECT -1, 'check', 1, gen_random_uuid(), 'T', '{}', now(), v.d::jsonb, v.e, v.b::bytea
             FROM (VALUES ${values}) AS v(d, e, b)`,
        ),
      ).rejects.toThrow(/events_encoding_check/);
    }
  });

  it('keeps append_events_v3 working beside v4 for a rolling upgrade, writing JSON rows', async () => {
    const event = testEvent('Billed', { amount: 1 });
    await pool.query(
      `SELECT * FROM eventcore.append_events_v3($1::text[], $2::text[], $3::bigint[], $4::integer[],
         $5::integer[], $6::integer[], $7::uuid[], $8::text[], $9::integer[], $10::jsonb[],
         $11::jsonb[], $12::timestamptz[], $13::boolean)`,
      [
        ['old-library'],
        ['any'],
        [null],
        [1],
        [1],
        [1],
        [event.id],
        [event.type],
        [1],
        [JSON.stringify(event.data)],
        [JSON.stringify(event.metadata)],
        [event.occurredAt],
        false,
      ],
    );
    const read = await store.readStreams([streamId('old-library')]);
    expect(read.events).toHaveLength(1);
    expect(read.events[0]).toMatchObject({ id: event.id, data: { amount: 1 } });
    expect(read.events[0]!.encoding).toBeUndefined();
  });

  it('upgrades a version 3 schema that holds events, and the check then validates', async () => {
    const schema = 'upgraded';
    for (const migration of SCHEMA_MIGRATIONS.filter((m) => m.version <= 3)) {
      for (const statement of migration.up(schema)) await pool.query(statement);
      await pool.query(recordVersionSql(schema), [migration.version, migration.name]);
    }
    const event = testEvent('Billed', { amount: 3 });
    await pool.query(
      `SELECT * FROM upgraded.append_events_v3($1::text[], $2::text[], $3::bigint[], $4::integer[],
         $5::integer[], $6::integer[], $7::uuid[], $8::text[], $9::integer[], $10::jsonb[],
         $11::jsonb[], $12::timestamptz[], $13::boolean)`,
      [
        ['before'],
        ['any'],
        [null],
        [1],
        [1],
        [1],
        [event.id],
        [event.type],
        [1],
        [JSON.stringify(event.data)],
        [JSON.stringify(event.metadata)],
        [event.occurredAt],
        false,
      ],
    );
    await expect(migrate(new PgPoolSqlExecutor(pool, false), { schema })).resolves.toBe(
      CURRENT_SCHEMA_VERSION,
    );
    await pool.query(`ALTER TABLE upgraded.events VALIDATE CONSTRAINT events_encoding_check`);
    const upgraded = await createPostgresEventStore({ pool, schema, migrate: false });
    try {
      const read = await upgraded.readStreams([streamId('before')]);
      expect(read.events.map((e) => [e.id, e.data, e.encoding])).toEqual([
        [event.id, { amount: 3 }, undefined],
      ]);
    } finally {
      await upgraded.close();
    }
  });
});
