import 'reflect-metadata';
import { CommandExecutor, ExpectedVersion, newEventId, streamId } from '@eventcore/core';
import { createPostgresEventStore, type PostgresEventStore } from '@eventcore/postgres';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { createTestDatabase } from '../libs/postgres/src/testing/test-database';
import { measure, runConcurrently, type Scenario, type ScenarioResult } from './harness';
import { BenchDeposit, BenchTransfer } from './memory.scenarios';

/**
 * PostgreSQL benchmarks: `npm run build && node dist/bench/pg-bench.js [--quick]`.
 * Uses a fresh database on EVENTCORE_TEST_DATABASE_URL (default: the local server), dropped at the
 * end. Every EventCore figure is printed beside a raw `pg` limit measured in the same run.
 */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const runs = quick ? 3 : 5;
  const database = await createTestDatabase();
  const pool = database.pool({ max: 20 });
  const store = await createPostgresEventStore({
    connectionString: database.url,
    poolSize: 20,
    schema: 'bench',
  });
  try {
    await pool.query(
      'CREATE TABLE raw_events (id bigserial PRIMARY KEY, stream_id text NOT NULL, data jsonb NOT NULL)',
    );
    const scenarios = pgScenarios(store, pool, quick);
    const results: ScenarioResult[] = [];
    for (const [i, scenario] of scenarios.entries()) {
      process.stderr.write(`[${i + 1}/${scenarios.length}] ${scenario.name} ...\n`);
      results.push(await measure(scenario, runs, quick));
    }
    for (const result of results) {
      const raw = scenarios.find((s) => s.name === result.name)?.rawLimit;
      const limit = results.find((r) => r.name === raw);
      if (limit !== undefined) {
        result.rawLimit = { name: limit.name, median: limit.median };
        result.ratio = Math.round((result.median / limit.median) * 1000) / 1000;
      }
    }
    const output = {
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      server: (await pool.query<{ v: string }>('SHOW server_version')).rows[0]?.v,
      quick,
      runs,
      date: new Date().toISOString(),
      results: Object.fromEntries(
        results.filter((r) => r.rawLimit !== undefined).map((r) => [r.name, r]),
      ),
      rawLimits: Object.fromEntries(
        results.filter((r) => r.rawLimit === undefined).map((r) => [r.name, r]),
      ),
    };
    const dir = join(__dirname, '..', '..', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pg-latest.json'), `${JSON.stringify(output, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    await store.close();
    await database.drop();
  }
}

function pgScenarios(store: PostgresEventStore, pool: Pool, quick: boolean): Scenario[] {
  const executor = new CommandExecutor(store);
  const commands = quick ? 300 : 1000;
  let round = 0;
  // Each run writes to fresh streams (a few events each), so the figures measure commands and not
  // ever-longer folds; clients never share a stream, so nothing conflicts.
  const stream = (client: number, i: number) => streamId(`acct-${round}-${client}-${i % 25}`);

  const single = (concurrency: number): Scenario => ({
    name: `pg.command.single.c${concurrency}`,
    unit: 'commands/s',
    concurrency,
    rawLimit: `pg.raw.insert.c${concurrency}`,
    async run() {
      round++;
      const perClient = Math.ceil(commands / concurrency);
      await runConcurrently(concurrency, concurrency, async (client) => {
        for (let i = 0; i < perClient; i++)
          await executor.execute(new BenchDeposit(stream(client, i), 1));
      });
      return perClient * concurrency;
    },
  });

  const transfer = (concurrency: number): Scenario => ({
    name: `pg.command.transfer.c${concurrency}`,
    unit: 'commands/s',
    concurrency,
    rawLimit: `pg.raw.insert.c${concurrency}`,
    async run() {
      round++;
      const perClient = Math.ceil(commands / concurrency);
      await runConcurrently(concurrency, concurrency, async (client) => {
        for (let i = 0; i < perClient; i++) {
          const [a, b] = [stream(client, 2 * i), stream(client, 2 * i + 1)];
          await executor.execute(
            i % 2 === 0 ? new BenchTransfer(a, b, 1) : new BenchTransfer(b, a, 1),
          );
        }
      });
      return perClient * concurrency;
    },
  });

  const rawInsert = (concurrency: number): Scenario => ({
    name: `pg.raw.insert.c${concurrency}`,
    unit: 'transactions/s',
    concurrency,
    async run() {
      const perClient = Math.ceil(commands / concurrency);
      await runConcurrently(concurrency, concurrency, async (client) => {
        for (let i = 0; i < perClient; i++) {
          await pool.query('INSERT INTO raw_events (stream_id, data) VALUES ($1, $2)', [
            `raw-${client}`,
            '{"amount":1}',
          ]);
        }
      });
      return perClient * concurrency;
    },
  });

  const batch = (): StreamWrite[] => [
    {
      streamId: streamId(`batch-${++round}`),
      expected: ExpectedVersion.any,
      events: Array.from({ length: 1000 }, (_, i) => ({
        id: newEventId(),
        type: 'Deposited',
        data: { amount: i, note: 'batch' },
        metadata: { correlationId: 'bench', causationId: 'bench', userId: null, custom: {} },
        occurredAt: new Date().toISOString(),
      })),
    },
  ];
  const batches = quick ? 5 : 20;

  const foldStream = streamId('fold-100k');
  let foldReady = false;

  return [
    rawInsert(1),
    single(1),
    transfer(1),
    rawInsert(16),
    single(16),
    transfer(16),
    {
      name: 'pg.raw.multirow1000',
      unit: 'events/s',
      concurrency: 1,
      async run() {
        const values = Array.from({ length: 1000 }, (_, i) => `($1, $${i + 2})`).join(',');
        for (let b = 0; b < batches; b++) {
          const params = [
            'raw-batch',
            ...Array.from({ length: 1000 }, (_, i) => JSON.stringify({ amount: i, note: 'batch' })),
          ];
          await pool.query(`INSERT INTO raw_events (stream_id, data) VALUES ${values}`, params);
        }
        return batches * 1000;
      },
    },
    {
      name: 'pg.append.batch1000',
      unit: 'events/s',
      concurrency: 1,
      rawLimit: 'pg.raw.multirow1000',
      async run() {
        for (let b = 0; b < batches; b++) await store.append(batch());
        return batches * 1000;
      },
    },
    {
      name: 'pg.raw.select100k',
      unit: 'events/s',
      concurrency: 1,
      async setup() {
        if (foldReady) return;
        for (let b = 0; b < 100; b++) {
          const [write] = batch();
          await store.append([{ ...write!, streamId: foldStream }]);
        }
        foldReady = true;
      },
      async run() {
        const { rows } = await pool.query<{ data: string }>(
          'SELECT data::text AS data FROM bench.events WHERE stream_id = $1 ORDER BY global_position',
          [foldStream],
        );
        let total = 0;
        for (const row of rows) total += (JSON.parse(row.data) as { amount: number }).amount;
        if (total < 0) throw new Error('unreachable');
        return rows.length;
      },
    },
    {
      name: 'pg.fold.100k',
      unit: 'events/s',
      concurrency: 1,
      rawLimit: 'pg.raw.select100k',
      async run() {
        const read = await store.readStreams([foldStream]);
        let total = 0;
        for (const event of read.events) total += (event.data as { amount: number }).amount;
        if (total < 0) throw new Error('unreachable');
        return read.events.length;
      },
    },
  ];
}

type StreamWrite = Parameters<PostgresEventStore['append']>[0][number];

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
