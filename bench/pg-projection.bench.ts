import 'reflect-metadata';
import {
  ExpectedVersion,
  InMemoryProjectionLock,
  newEventId,
  type Position,
  ProjectionWorker,
  type RecordedEvent,
  streamId,
} from '@eventcore/core';
import {
  createPostgresCheckpointStore,
  createPostgresEventStore,
  type PostgresCheckpointStore,
  type PostgresEventStore,
  type PostgresProjectionTx,
} from '@eventcore/postgres';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { createTestDatabase } from '@eventcore/postgres/testing';
import { measure, type Scenario, type ScenarioResult } from './harness';

const EVENTS = 100_000;
const PER_APPEND = 1_000;
const STREAMS = 100;

/**
 * Projection catch-up on PostgreSQL: `npm run build && node dist/bench/pg-projection.bench.js
 * [--quick]`. 100,000 events are projected into an exactly-once read model (one upsert per event
 * through the checkpoint transaction, batches of 500) from a cold checkpoint, beside the raw rate
 * of selecting and parsing the same events in log order with `pg` (from the store's table and
 * from a minimal copy). Fresh database, dropped at the end.
 */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const runs = quick ? 1 : 3;
  const database = await createTestDatabase();
  const pool = database.pool({ max: 4 });
  const store = await createPostgresEventStore({
    connectionString: database.url,
    poolSize: 8,
    schema: 'bench',
  });
  try {
    const checkpoints = await createPostgresCheckpointStore(store);
    await pool.query(
      'CREATE TABLE bench.sums (stream_id text PRIMARY KEY, total bigint NOT NULL, events int NOT NULL)',
    );
    process.stderr.write(`appending ${EVENTS} events ...\n`);
    const head = await appendEvents(store);
    const scenarios = [
      rawSelect(pool, 'minimal'),
      rawSelect(pool, 'schema'),
      readAll(store),
      catchUp(store, checkpoints, pool, head),
    ];
    const results: ScenarioResult[] = [];
    const ratio = (result: ScenarioResult, limit: ScenarioResult) =>
      Math.round((result.median / limit.median) * 1000) / 1000;
    for (const scenario of scenarios) {
      process.stderr.write(`${scenario.name} ...\n`);
      const result = await measure(scenario, runs, quick);
      const raw = results.find((r) => r.name === scenario.rawLimit);
      if (raw !== undefined) {
        result.rawLimit = { name: raw.name, median: raw.median };
        result.ratio = ratio(result, raw);
      }
      const minimal = results.find((r) => r.name === scenario.minimalLimit);
      if (minimal !== undefined) {
        result.minimalLimit = { name: minimal.name, median: minimal.median };
        result.minimalRatio = ratio(result, minimal);
      }
      results.push(result);
    }
    const output = {
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      server: (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
        .rows[0]?.v,
      quick,
      runs,
      events: EVENTS,
      date: new Date().toISOString(),
      results: Object.fromEntries(results.map((r) => [r.name, r])),
    };
    const dir = join(__dirname, '..', '..', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pg-projection-latest.json'), `${JSON.stringify(output, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    await store.close();
    await database.drop();
  }
}

async function appendEvents(store: PostgresEventStore): Promise<Position> {
  let head: Position | undefined;
  for (let b = 0; b < EVENTS / PER_APPEND; b++) {
    const result = await store.append([
      {
        streamId: streamId(`acct-${b % STREAMS}`),
        expected: ExpectedVersion.any,
        events: Array.from({ length: PER_APPEND }, (_, i) => ({
          id: newEventId(),
          type: 'MoneyDeposited',
          data: { amount: i + 1, note: 'bench' },
          metadata: { correlationId: 'bench', causationId: 'bench', userId: null, custom: {} },
          occurredAt: new Date().toISOString(),
        })),
      },
    ]);
    head = result.position;
  }
  return head!;
}

/**
 * The floor: `pg` selecting the events in log order and parsing their data, nothing else — from
 * the store's own table (`schema`) or from a minimal copy of the same rows (`minimal`: position
 * and data).
 */
function rawSelect(pool: Pool, table: 'minimal' | 'schema'): Scenario {
  return {
    name: table === 'minimal' ? 'pg.raw.selectlog100k' : 'pg.raw.schema.selectlog100k',
    unit: 'events/s',
    concurrency: 1,
    async setup() {
      if (table === 'schema') return;
      await pool.query('CREATE TABLE raw_log (position bigint PRIMARY KEY, data jsonb NOT NULL)');
      await pool.query(
        `INSERT INTO raw_log SELECT row_number() OVER (ORDER BY transaction_id, global_position), data
           FROM bench.events`,
      );
      await pool.query('ANALYZE raw_log');
    },
    async run() {
      const { rows } = await pool.query<{ data: string }>(
        table === 'minimal'
          ? 'SELECT data::text AS data FROM raw_log ORDER BY position'
          : 'SELECT data::text AS data FROM bench.events ORDER BY transaction_id, global_position',
      );
      let total = 0;
      for (const row of rows) total += (JSON.parse(row.data) as { amount: number }).amount;
      if (total < 0) throw new Error('unreachable');
      return rows.length;
    },
  };
}

/** The store's own log reader, in pages of 500 (what a projection reads), without handling. */
function readAll(store: PostgresEventStore): Scenario {
  return {
    name: 'pg.readall.100k',
    unit: 'events/s',
    concurrency: 1,
    rawLimit: 'pg.raw.schema.selectlog100k',
    minimalLimit: 'pg.raw.selectlog100k',
    async run() {
      let after: Position | undefined;
      let count = 0;
      for (;;) {
        const page = await store.readAll({ after, limit: 500 });
        count += page.events.length;
        after = page.next;
        if (page.isEnd) return count;
      }
    },
  };
}

/** A cold projection catching up into the exactly-once read model. */
function catchUp(
  store: PostgresEventStore,
  checkpoints: PostgresCheckpointStore,
  pool: Pool,
  head: Position,
): Scenario {
  let run = 0;
  // A batch handler, as the manual recommends for catch-up: sums per stream in process, then one
  // multi-row upsert per batch (the worker still commits it with the checkpoint).
  const handler = {
    handle(event: RecordedEvent, context: { tx: PostgresProjectionTx }) {
      return handler.handleBatch([event], context);
    },
    async handleBatch(events: readonly RecordedEvent[], { tx }: { tx: PostgresProjectionTx }) {
      const sums = new Map<string, { total: number; events: number }>();
      for (const event of events) {
        const sum = sums.get(event.streamId) ?? { total: 0, events: 0 };
        sum.total += (event.data as { amount: number }).amount;
        sum.events++;
        sums.set(event.streamId, sum);
      }
      const rows = [...sums];
      await tx.query(
        `INSERT INTO bench.sums AS s (stream_id, total, events)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
         ON CONFLICT (stream_id) DO UPDATE SET total = s.total + EXCLUDED.total, events = s.events + EXCLUDED.events`,
        [rows.map(([id]) => id), rows.map(([, s]) => s.total), rows.map(([, s]) => s.events)],
        { name: 'bench_sums_upsert_batch' },
      );
    },
  };
  return {
    name: 'pg.projection.catchup.100k',
    unit: 'events/s',
    concurrency: 1,
    rawLimit: 'pg.raw.schema.selectlog100k',
    minimalLimit: 'pg.raw.selectlog100k',
    async run() {
      await pool.query('TRUNCATE bench.sums');
      const worker = new ProjectionWorker<PostgresProjectionTx>(
        { name: `catchup-${++run}`, batchSize: 500, pollIntervalMs: 1_000 },
        handler,
        { store, checkpoints, lock: new InMemoryProjectionLock() },
      );
      worker.start();
      try {
        await worker.waitFor(head);
      } finally {
        await worker.stop();
      }
      const [sums] = (await pool.query<{ n: string }>('SELECT sum(events) AS n FROM bench.sums'))
        .rows;
      if (Number(sums?.n) !== EVENTS) throw new Error(`projected ${sums?.n} events, not ${EVENTS}`);
      return EVENTS;
    },
  };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
