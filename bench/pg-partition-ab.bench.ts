import { ExpectedVersion, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import {
  createPostgresEventStore,
  type PostgresEventStore,
  SCHEMA_MIGRATIONS,
} from '@eventcore/postgres';
import { createTestDatabase } from '@eventcore/postgres/testing';
import type { Pool } from 'pg';
import { cpus } from 'node:os';
import { runConcurrently } from './harness';
import { readAllRate } from './pg-scale.bench';

const PREFILL = 200_000;
const ROUNDS = 3;
const APPENDS = 300;
const CONCURRENT_APPENDS = 2_000;
const CLIENTS = 16;

type Layout = 'partitioned' | 'unpartitioned';

/**
 * `npm run bench -- --partition-ab`: the same store on the partitioned events table (a new store at
 * schema version 8) and on the unpartitioned one (a store that had events when version 8 ran),
 * side by side in one database, each prefilled with 200,000 events. Measured in alternation, A B
 * then B A, 3 rounds, medians: one-event appends one after another (p50 / p99), appends of 16
 * clients to distinct streams (per second), reading a 100-event stream, and `readAll` of 100,000
 * events. Alternating makes whatever else runs on the machine weigh on both alike.
 */
export async function runPartitionAbBench(): Promise<void> {
  const database = await createTestDatabase();
  const pool = database.pool({ max: CLIENTS + 4 });
  try {
    await prepareUnpartitioned(pool);
    const stores: Record<Layout, PostgresEventStore> = {
      partitioned: await createPostgresEventStore({ pool, schema: 'partitioned' }),
      unpartitioned: await createPostgresEventStore({ pool, schema: 'unpartitioned' }),
    };
    await prefill(pool, 'partitioned');
    for (const schema of ['partitioned', 'unpartitioned']) {
      await pool.query(`VACUUM (ANALYZE) ${schema}.events`);
    }
    await pool.query('CHECKPOINT');
    const samples: Record<Layout, Record<string, number[]>> = {
      partitioned: {},
      unpartitioned: {},
    };
    const add = (layout: Layout, name: string, value: number) =>
      (samples[layout][name] ??= []).push(value);
    for (let round = 0; round < ROUNDS; round++) {
      const order: Layout[] =
        round % 2 === 0 ? ['partitioned', 'unpartitioned'] : ['unpartitioned', 'partitioned'];
      for (const layout of order) {
        process.stderr.write(`round ${round + 1}: ${layout} ...\n`);
        const store = stores[layout];
        const latencies = await sequentialAppends(store, `seq-${round}`);
        add(layout, 'appendP50Ms', percentile(latencies, 0.5));
        add(layout, 'appendP99Ms', percentile(latencies, 0.99));
        add(layout, 'concurrentAppendsPerSecond', await concurrentAppends(store, round));
        add(layout, 'readStreamMs', await readStream(store));
        add(layout, 'readAllEventsPerSecond', await readAllRate(store));
      }
    }
    const medians = (layout: Layout) =>
      Object.fromEntries(
        Object.entries(samples[layout]).map(([name, values]) => [
          name,
          round2(percentile(values, 0.5)),
        ]),
      );
    const output = {
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      date: new Date().toISOString(),
      prefill: PREFILL,
      partitioned: medians('partitioned'),
      unpartitioned: medians('unpartitioned'),
    };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    await Promise.all(Object.values(stores).map((s) => s.close()));
  } finally {
    await database.drop();
  }
}

/** Schema `unpartitioned` at version 7 with the prefill, then migrated by the store to version 8. */
async function prepareUnpartitioned(pool: Pool): Promise<void> {
  for (const migration of SCHEMA_MIGRATIONS.filter((m) => m.version < 8)) {
    for (const statement of migration.up('unpartitioned')) await pool.query(statement);
  }
  await prefill(pool, 'unpartitioned');
}

/** 200,000 deposit-sized events in 2,000 streams of 100, and their stream rows. */
async function prefill(pool: Pool, schema: string): Promise<void> {
  await pool.query(
    `INSERT INTO ${schema}.events (global_position, stream_id, stream_version, event_id, type, data, metadata, occurred_at)
     SELECT nextval('${schema}.events_position_seq'), 'prefill-' || (n % 2000), n / 2000 + 1, gen_random_uuid(),
            'MoneyDeposited', jsonb_build_object('amount', n % 100 + 1),
            jsonb_build_object('correlationId', gen_random_uuid(), 'causationId', gen_random_uuid(),
                               'userId', NULL, 'custom', '{}'::jsonb), now()
       FROM generate_series(0, $1 - 1) AS n`,
    [PREFILL],
  );
  await pool.query(
    `INSERT INTO ${schema}.streams (stream_id, version)
     SELECT stream_id, max(stream_version) FROM ${schema}.events GROUP BY stream_id
     ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version`,
  );
}

async function sequentialAppends(store: PostgresEventStore, prefix: string): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < APPENDS; i++) {
    const started = performance.now();
    await store.append([
      {
        streamId: streamId(`${prefix}-${i % 10}`),
        expected: ExpectedVersion.any,
        events: [testEvent('MoneyDeposited', { amount: 1 })],
      },
    ]);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

async function concurrentAppends(store: PostgresEventStore, round: number): Promise<number> {
  const started = performance.now();
  await runConcurrently(CONCURRENT_APPENDS, CLIENTS, (i) =>
    store.append([
      {
        streamId: streamId(`conc-${round}-${i % 64}`),
        expected: ExpectedVersion.any,
        events: [testEvent('MoneyDeposited', { amount: 1 })],
      },
    ]),
  );
  return CONCURRENT_APPENDS / ((performance.now() - started) / 1000);
}

/** Median of 50 reads of a 100-event stream. */
async function readStream(store: PostgresEventStore): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    await store.readStreams([streamId(`prefill-${i}`)]);
    times.push(performance.now() - started);
  }
  return percentile(times, 0.5);
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
