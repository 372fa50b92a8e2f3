import 'reflect-metadata';
import { CommandExecutor, type StreamId, streamId } from '@eventcore/core';
import {
  createPostgresEventStore,
  createPostgresSnapshotStore,
  type PostgresEventStore,
  type PostgresSnapshotStore,
} from '@eventcore/postgres';
import { createTestDatabase } from '@eventcore/postgres/testing';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { appendDeposits, ColdDeposit } from './cold-deposit';
import { measure, type Scenario, type ScenarioResult } from './harness';

const LONG = 1_000_000;
const SHORT = 100;

/**
 * Cold commands on PostgreSQL: `npm run build && node dist/bench/pg-cold.bench.js [--quick]`.
 * Not part of `npm run bench` (filling the stream takes minutes). Every command is cold: no state
 * cache, so each reads its boundary —
 * - `pg.command.cold.100`: on a 100-event stream, folding it whole;
 * - `pg.command.cold.1m.full`: on a 1,000,000-event stream, folding it whole;
 * - `pg.command.cold.1m.snapshot`: on the same stream, from a snapshot taken at its end and
 *   renewed in the background after every 100 events folded, as a production policy would.
 * Fresh database, dropped at the end. `--quick` uses 100,000 events for the long stream.
 */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const long = quick ? LONG / 10 : LONG;
  const runs = quick ? 1 : 3;
  const database = await createTestDatabase();
  const store = await createPostgresEventStore({
    connectionString: database.url,
    poolSize: 4,
    schema: 'bench',
  });
  try {
    const snapshots = await createPostgresSnapshotStore(store);
    const longStream = streamId('cold-long');
    const shortStream = streamId('cold-short');
    process.stderr.write(`appending ${long} + ${SHORT} events ...\n`);
    await appendDeposits(store, longStream, long);
    await appendDeposits(store, shortStream, SHORT);
    await takeSnapshot(store, snapshots, longStream);
    const plain = new CommandExecutor(store);
    const snapshotted = new CommandExecutor(store, { snapshots: { store: snapshots, every: 100 } });
    const scenarios = [
      cold('pg.command.cold.100', plain, shortStream, quick ? 50 : 200),
      cold('pg.command.cold.1m.full', plain, longStream, 1),
      cold('pg.command.cold.1m.snapshot', snapshotted, longStream, quick ? 50 : 200),
    ];
    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      process.stderr.write(`${scenario.name} ...\n`);
      results.push(await measure(scenario, runs, quick));
    }
    const short = results[0]!.median;
    const output = {
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      quick,
      runs,
      events: { long, short: SHORT },
      date: new Date().toISOString(),
      // Cost of a cold command on the long stream relative to one on the short stream (time per
      // command, so > 1 is slower): the snapshot's goal is at most 2.
      costVsShort: Object.fromEntries(
        results.slice(1).map((r) => [r.name, Math.round((short / r.median) * 100) / 100]),
      ),
      results: Object.fromEntries(results.map((r) => [r.name, r])),
    };
    const dir = join(__dirname, '..', '..', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pg-cold-latest.json'), `${JSON.stringify(output, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    await snapshotted.close();
  } finally {
    await store.close();
    await database.drop();
  }
}

/** One cold command that folds the whole stream and leaves a snapshot at its end. */
async function takeSnapshot(
  store: PostgresEventStore,
  snapshots: PostgresSnapshotStore,
  id: StreamId,
): Promise<void> {
  const executor = new CommandExecutor(store, { snapshots: { store: snapshots, every: 1 } });
  await executor.execute(new ColdDeposit(id));
  await executor.close();
}

/** `n` cold commands on one stream, one after another. */
function cold(name: string, executor: CommandExecutor, id: StreamId, n: number): Scenario {
  return {
    name,
    unit: 'commands/s',
    concurrency: 1,
    async run() {
      for (let i = 0; i < n; i++) await executor.execute(new ColdDeposit(id));
      return n;
    },
  };
}

void main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
