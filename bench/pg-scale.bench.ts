import { CommandExecutor, ExpectedVersion, streamId } from '@eventcore/core';
import {
  createPostgresEventStore,
  createPostgresSnapshotStore,
  type PostgresEventStore,
} from '@eventcore/postgres';
import { createTestDatabase, type TestDatabase } from '@eventcore/postgres/testing';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Deposit, openAccounts, TransferMoney } from './accounts';
import { lineChartSvg } from './chart';
import { appendDeposits, ColdDeposit, deposited } from './cold-deposit';
import { runConcurrently } from './harness';

/** Log sizes measured at, in events; `--scale-max N` stops at the last one ≤ N. */
const LEVELS = [10_000, 1_000_000, 10_000_000];
/** The first million events go to one stream: the cold command's long stream. */
const LONG_STREAM = streamId('scale-long');
const LONG = 1_000_000;
const PER_APPEND = 5_000;
const CLIENTS = 16;
const ACCOUNTS = 64;
const COMMANDS = 3_000;
const SINGLE_APPENDS = 500;
const READ_EVENTS = 100_000;
const SHORT = 100;

interface LevelResult {
  events: number;
  singleCommandsPerSecond: number;
  transfersPerSecond: number;
  appendLatencyMs: { p50: number; p99: number };
  coldCommandMs?: { fullFold: number; withSnapshot: number; shortStream: number };
  readAllEventsPerSecond: number;
  sizeMiB: Sizes;
}

/** Sizes on disk in MiB: the events table and its indexes over every partition, then per partition. */
interface Sizes {
  eventsTable: number;
  eventsIndexes: number;
  hot: { table: number; indexes: number };
  archived: { table: number; indexes: number };
  eventTags: number;
  streams: number;
}

/** The archive step after the last level: the 1,000,000-event stream archived. */
interface ArchiveResult {
  archivedEvents: number;
  archiveSeconds: number;
  /** After the archive and a plain VACUUM: the freed hot space is reusable, not returned. */
  afterVacuum: Sizes;
  /** After `VACUUM FULL` of the hot partition (it locks the partition while it runs). */
  afterVacuumFull: Sizes;
  vacuumFullSeconds: number;
}

/**
 * `npm run bench -- --scale [--scale-max N]`: grows one store to 10,000,000 events and measures, at
 * 10 thousand, 1 million and 10 million events, what must stay flat as the log grows —
 * single-stream and two-stream commands at 16 clients (no state cache: every command reads its
 * streams), single-event append latency, a cold command on the 1,000,000-event stream with and
 * without a snapshot beside one on a 100-event stream, `readAll` over 100,000 events, and the size
 * on disk of the events table, its indexes (hot and archived partitions) and the tag index. After
 * the last level it archives the 1,000,000-event stream and measures the sizes again (see
 * `ArchiveResult`). Each level uses accounts of its own,
 * so commands read streams of the same length at every level. Fresh database, dropped at the end;
 * writes `bench/results/scale-latest.json` and `bench/results/scale.svg`. Not part of `--quick` or
 * CI: filling 10,000,000 events takes minutes.
 */
export async function runScaleBench(maxEvents: number): Promise<void> {
  const levels = LEVELS.filter((n) => n <= maxEvents);
  const database = await createTestDatabase();
  const store = await createPostgresEventStore({
    connectionString: database.url,
    poolSize: CLIENTS,
    schema: 'bench',
  });
  const results: LevelResult[] = [];
  let archive: ArchiveResult | undefined;
  try {
    let filled = 0;
    for (const level of levels) {
      process.stderr.write(`filling to ${level.toLocaleString('en-US')} events ...\n`);
      filled = await grow(store, filled, level - filled);
      process.stderr.write(`measuring at ${level.toLocaleString('en-US')} events ...\n`);
      results.push(await measureLevel(store, database, level, filled >= LONG));
      process.stderr.write(`${JSON.stringify(results.at(-1))}\n`);
    }
    if (filled >= LONG) {
      process.stderr.write('archiving the 1,000,000-event stream ...\n');
      archive = await archiveLongStream(store, database);
      process.stderr.write(`${JSON.stringify(archive)}\n`);
    }
  } finally {
    await store.close();
    await database.drop();
  }
  const first = results[0]!;
  const last = results.at(-1)!;
  const output = {
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    date: new Date().toISOString(),
    // > 1: cheaper at the largest log than at the smallest; the bound is 0.85 for commands.
    flatness: {
      singleCommands: round2(last.singleCommandsPerSecond / first.singleCommandsPerSecond),
      transfers: round2(last.transfersPerSecond / first.transfersPerSecond),
      readAll: round2(last.readAllEventsPerSecond / first.readAllEventsPerSecond),
    },
    levels: results,
    archive,
  };
  const dir = join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'scale-latest.json'), `${JSON.stringify(output, null, 2)}\n`);
  writeFileSync(join(dir, 'scale.svg'), chart(results));
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
}

/**
 * Grows the log by `count` deposits after `filled`, 5,000 an append: into the long stream until it
 * holds 1,000,000 events, then into streams of 5,000 events each. Returns the new total.
 */
async function grow(store: PostgresEventStore, filled: number, count: number): Promise<number> {
  let total = filled;
  while (total < filled + count) {
    const n = Math.min(PER_APPEND, filled + count - total);
    if (total < LONG) await appendDeposits(store, LONG_STREAM, n, total);
    else await appendDeposits(store, streamId(`scale-filler-${total}`), n);
    total += n;
  }
  return total;
}

async function measureLevel(
  store: PostgresEventStore,
  database: TestDatabase,
  level: number,
  hasLongStream: boolean,
): Promise<LevelResult> {
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) =>
    streamId(`account-scale-${level}-${i}`),
  );
  // Measured in a settled state: after a bulk fill, autovacuum would otherwise be writing the
  // whole table's visibility map (and a checkpoint its pages) during the measured commands.
  await settle(database);
  await openAccounts(store, accounts, 1_000_000);
  const executor = new CommandExecutor(store);
  const single = await rate(COMMANDS, (i) =>
    executor.execute(new Deposit(accounts[i % ACCOUNTS]!, 1)),
  );
  // Disjoint pairs at every moment: a transfer conflicts only with one in flight on its accounts.
  const transfers = await rate(COMMANDS, (i) => {
    const a = (i * 2) % ACCOUNTS;
    return executor.execute(new TransferMoney(accounts[a]!, accounts[a + 1]!, 1));
  });
  const latencies: number[] = [];
  for (let i = 0; i < SINGLE_APPENDS; i++) {
    const started = performance.now();
    await store.append([
      {
        streamId: streamId(`scale-latency-${level}-${i}`),
        expected: ExpectedVersion.noStream,
        events: [deposited()],
      },
    ]);
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  return {
    events: level,
    singleCommandsPerSecond: Math.round(single),
    transfersPerSecond: Math.round(transfers),
    appendLatencyMs: {
      p50: round2(latencies[Math.floor(latencies.length / 2)]!),
      p99: round2(latencies[Math.floor(latencies.length * 0.99)]!),
    },
    ...(hasLongStream ? { coldCommandMs: await coldCommands(store, level) } : {}),
    readAllEventsPerSecond: Math.round(await readAllRate(store)),
    sizeMiB: await sizes(database),
  };
}

/** Commands per second for `total` commands at 16 clients. */
async function rate(total: number, task: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await runConcurrently(total, CLIENTS, task);
  return total / ((performance.now() - started) / 1000);
}

/**
 * Milliseconds of one cold command on the 1,000,000-event stream folded whole, on the same stream
 * from a snapshot (median of 20), and on a 100-event stream (median of 20): the same command, no
 * state cache, so each reads its stream.
 */
async function coldCommands(
  store: PostgresEventStore,
  level: number,
): Promise<{ fullFold: number; withSnapshot: number; shortStream: number }> {
  const shortStream = streamId(`scale-short-${level}`);
  await appendDeposits(store, shortStream, SHORT);
  const snapshots = await createPostgresSnapshotStore(store);
  const plain = new CommandExecutor(store);
  const timed = async (work: () => Promise<unknown>) => {
    const started = performance.now();
    await work();
    return performance.now() - started;
  };
  const fullFold = await timed(() => plain.execute(new ColdDeposit(LONG_STREAM)));
  // One cold command folds the stream whole and leaves a snapshot at its end; the measured ones
  // renew it in the background after every 100 events folded, as a production policy would.
  const taker = new CommandExecutor(store, { snapshots: { store: snapshots, every: 1 } });
  await taker.execute(new ColdDeposit(LONG_STREAM));
  await taker.close();
  const snapshotted = new CommandExecutor(store, { snapshots: { store: snapshots, every: 100 } });
  const medianOf = async (work: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) times.push(await timed(work));
    return times.sort((a, b) => a - b)[10]!;
  };
  const withSnapshot = await medianOf(() => snapshotted.execute(new ColdDeposit(LONG_STREAM)));
  const short = await medianOf(() => plain.execute(new ColdDeposit(shortStream)));
  await snapshotted.close();
  return {
    fullFold: round2(fullFold),
    withSnapshot: round2(withSnapshot),
    shortStream: round2(short),
  };
}

/** Events per second reading the first 100,000 events of the log with `readAll`, 1,000 a page. */
export async function readAllRate(store: PostgresEventStore): Promise<number> {
  const started = performance.now();
  let after: Awaited<ReturnType<PostgresEventStore['readAll']>>['next'] | undefined;
  let read = 0;
  while (read < READ_EVENTS) {
    const page = await store.readAll({ after, limit: 1_000 });
    read += page.events.length;
    after = page.next;
    if (page.isEnd) break;
  }
  return read / ((performance.now() - started) / 1000);
}

/**
 * Archives the long stream, then measures the sizes after a plain VACUUM and after a `VACUUM FULL`
 * of the hot partition (timed).
 */
async function archiveLongStream(
  store: PostgresEventStore,
  database: TestDatabase,
): Promise<ArchiveResult> {
  const started = performance.now();
  const { archivedEvents } = await store.archiveStream(LONG_STREAM);
  const archiveSeconds = round2((performance.now() - started) / 1000);
  await settle(database);
  const afterVacuum = await sizes(database);
  const pool = database.pool({ max: 1 });
  let vacuumFullSeconds: number;
  try {
    const full = performance.now();
    await pool.query('VACUUM (FULL, ANALYZE) bench.events_hot');
    vacuumFullSeconds = round2((performance.now() - full) / 1000);
  } finally {
    await pool.end();
  }
  const afterVacuumFull = await sizes(database);
  return { archivedEvents, archiveSeconds, afterVacuum, afterVacuumFull, vacuumFullSeconds };
}

async function sizes(database: TestDatabase): Promise<Sizes> {
  const pool = database.pool({ max: 1 });
  const mib = async (sql: string) => {
    const { rows } = await pool.query<{ bytes: string }>(`SELECT (${sql})::bigint AS bytes`);
    return round2(Number(rows[0]!.bytes) / 2 ** 20);
  };
  // A partitioned table has no storage of its own: sum its partitions (or the table, unpartitioned).
  const all = (size: string) =>
    `SELECT coalesce(sum(${size}(relid)), 0) FROM pg_partition_tree('bench.events') WHERE isleaf`;
  const part = async (name: string) => ({
    table: await mib(`pg_table_size(to_regclass('bench.${name}'))`),
    indexes: await mib(`pg_indexes_size(to_regclass('bench.${name}'))`),
  });
  try {
    return {
      eventsTable: await mib(all('pg_table_size')),
      eventsIndexes: await mib(all('pg_indexes_size')),
      hot: await part('events_hot'),
      archived: await part('events_archived'),
      eventTags: await mib(`pg_total_relation_size('bench.event_tags')`),
      streams: await mib(`pg_total_relation_size('bench.streams')`),
    };
  } finally {
    await pool.end();
  }
}

/** VACUUM ANALYZE of the events and a CHECKPOINT, on a connection of its own. */
async function settle(database: TestDatabase): Promise<void> {
  const pool = database.pool({ max: 1 });
  try {
    await pool.query('VACUUM (ANALYZE) bench.events');
    await pool.query('CHECKPOINT');
  } finally {
    await pool.end();
  }
}

function chart(results: readonly LevelResult[]): string {
  const points = (pick: (r: LevelResult) => number | undefined) =>
    results.flatMap((r) => {
      const value = pick(r);
      return value === undefined ? [] : [[r.events, value] as const];
    });
  return lineChartSvg({
    title: 'Cost against log size (PostgreSQL, 16 clients, no state cache)',
    xLabel: 'events in the log',
    yLabel: 'per second',
    xTick: (n) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1_000}k`),
    series: [
      {
        label: 'single-stream commands',
        color: '#1f77b4',
        points: points((r) => r.singleCommandsPerSecond),
      },
      {
        label: 'transfers (2 streams)',
        color: '#d62728',
        points: points((r) => r.transfersPerSecond),
      },
      {
        label: 'readAll, events/s ÷ 100',
        color: '#2ca02c',
        dashed: true,
        points: points((r) => r.readAllEventsPerSecond / 100),
      },
    ],
  });
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
