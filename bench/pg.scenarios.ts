import 'reflect-metadata';
import {
  CommandExecutor,
  ExpectedVersion,
  newEventId,
  type StreamId,
  streamId,
  type StreamWrite,
} from '@eventcore/core';
import { createPostgresEventStore, type PostgresEventStore } from '@eventcore/postgres';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client, type Pool } from 'pg';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '@eventcore/postgres/testing';
import { runConcurrently, type Scenario, type ScenarioResult } from './harness';
import { accountStream, Deposit, openAccounts, TransferMoney } from './accounts';
import { dcbScenarios } from './pg-dcb.scenarios';
import { rawLimits, rawName, rawSelectScenarios, rawTablesSql } from './pg-raw.scenarios';

/** Concurrency levels of the command scenarios (the chart's x axis). */
export const CONCURRENCY_LEVELS = [1, 4, 16, 32] as const;

/** Levels of the raw read-then-insert limits and of the uncached scenarios (issue 17's targets). */
const RAW_TRANSFER_LEVELS: readonly number[] = [1, 16];

/** A PostgreSQL bench session: a fresh database, a store on it and a raw pool beside it. */
export interface PgBench {
  readonly scenarios: Scenario[];
  /** Figures that are not rates (peak RSS of the 16-client run, measured in a child process). */
  extraResults(): ScenarioResult[];
  server(): Promise<string>;
  close(): Promise<void>;
}

/** Whether the bench server answers within 3 s (`EVENTCORE_TEST_DATABASE_URL`, else local). */
export async function pgReachable(): Promise<boolean> {
  const client = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** Where the bench connects, without a password, for the "skipped" message. */
export function pgTarget(): string {
  try {
    const url = new URL(ADMIN_URL);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(invalid EVENTCORE_TEST_DATABASE_URL)';
  }
}

/**
 * Builds the PostgreSQL scenarios on a fresh database (dropped by `close`). Every EventCore figure
 * has raw `pg` limits measured in the same run beside it, each on two tables (see
 * {@link RAW_TABLES}): one with EventCore's own columns and indexes (`pg.raw.schema.*`, the
 * `rawLimit` the targets use) and a minimal one (`pg.raw.*`, the `minimalLimit`, the physical
 * limit), so a ratio separates the code's overhead from the schema's:
 * - cached commands (one round trip) vs one-row INSERT transactions at c connections;
 * - uncached commands vs a raw command: SELECT the stream's events, then INSERT the next version
 *   (two round trips, the unique (stream, version) key as the concurrency check);
 * - transfers vs the same on two streams (one SELECT of both, one two-row INSERT);
 * - a 1,000-event append vs one 1,000-row multi-row INSERT;
 * - reading a 100,000-event stream vs `SELECT data::text` + `JSON.parse` of as many rows;
 * - commands on a 100,000-event stream vs commands on a 100-event stream.
 * Command scenarios use the executor's state cache (an uncontended command is one round trip);
 * `*.nocache.*` runs the same without it (read + append, two round trips).
 */
export async function pgBench(quick: boolean): Promise<PgBench> {
  const database: TestDatabase = await createTestDatabase();
  const pool = database.pool({ max: 40 });
  const store = await createPostgresEventStore({
    connectionString: database.url,
    poolSize: 40,
    schema: 'bench',
  });
  for (const statement of rawTablesSql('bench.events')) await pool.query(statement);
  const cached = new CommandExecutor(store, { stateCache: { maxEntries: 100_000 } });
  const uncached = new CommandExecutor(store);
  const scenarios = pgScenarios(store, pool, cached, uncached, quick);
  return {
    scenarios,
    extraResults: () => {
      // In a process of its own (see pg-rss.ts): this one has run every other scenario.
      const output = execFileSync(
        process.execPath,
        [join(__dirname, 'pg-rss.js'), ...(quick ? ['--quick'] : [])],
        { encoding: 'utf8', timeout: 120_000 },
      );
      const mb = (JSON.parse(output) as { peakRssMB: number }).peakRssMB;
      // Projection catch-up too needs a database of its own (pg-projection.bench.ts).
      const projection = execFileSync(
        process.execPath,
        [join(__dirname, 'pg-projection.bench.js'), ...(quick ? ['--quick'] : [])],
        { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const projectionResults = Object.values(
        (JSON.parse(projection) as { results: Record<string, ScenarioResult> }).results,
      );
      return [
        ...projectionResults,
        {
          name: 'pg.command.c16.peak_rss',
          unit: 'MB',
          median: mb,
          min: mb,
          max: mb,
          runs: 1,
          concurrency: 16,
        },
      ];
    },
    server: async () =>
      (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]
        ?.v ?? 'unknown',
    async close() {
      await store.close();
      await database.drop();
    },
  };
}

function pgScenarios(
  store: PostgresEventStore,
  pool: Pool,
  cached: CommandExecutor,
  uncached: CommandExecutor,
  quick: boolean,
): Scenario[] {
  const commands = quick ? 400 : 2000;
  let round = 0;
  // 25 accounts per client; clients never share an account, so nothing conflicts. Single-stream
  // commands with the state cache reuse the same accounts in every run (the warm-up run reads them
  // once: the figure is the steady state of a hot working set, and stream length does not matter
  // since nothing is read). Everything else writes to fresh accounts every run, so the figures
  // measure commands and not ever-longer folds. The bank's commands need open accounts (funded,
  // to transfer): each run's are opened before it starts, outside the measured time.
  const stream = (prefix: string, client: number, i: number) =>
    accountStream(`${prefix}-${round}-${client}-${i % 25}`);
  /** Every account the clients of a run use. */
  const accountsOf = (prefix: string, concurrency: number) =>
    Array.from({ length: concurrency * 25 }, (_, k) => stream(prefix, Math.floor(k / 25), k));
  const opened = new Set<StreamId>();
  /** More than any run moves out of one account. */
  const funds = 1_000_000;
  const perClient = (concurrency: number) => Math.ceil(commands / concurrency);

  const raw = rawLimits(pool, quick);
  /** The limits of a scenario: same schema (the target's) and minimal (the physical one). */
  const limits = (kind: string) => ({
    rawLimit: rawName('schema', kind),
    minimalLimit: rawName('minimal', kind),
  });

  const singlePrefix = (concurrency: number, cache: boolean) =>
    `single${cache ? '' : '-nocache'}-c${concurrency}`;
  const single = (concurrency: number, cache = true): Scenario => ({
    name: cache ? `pg.command.single.c${concurrency}` : `pg.command.single.nocache.c${concurrency}`,
    unit: 'commands/s',
    concurrency,
    // Cached: one round trip, an insert; uncached: read, then insert.
    ...limits(cache ? `insert.c${concurrency}` : `command.c${concurrency}`),
    async prepare() {
      if (!cache) round++;
      await openAccounts(
        store,
        accountsOf(singlePrefix(concurrency, cache), concurrency),
        0,
        opened,
      );
    },
    async run() {
      const n = perClient(concurrency);
      const executor = cache ? cached : uncached;
      const prefix = singlePrefix(concurrency, cache);
      await runConcurrently(concurrency, concurrency, async (client) => {
        for (let i = 0; i < n; i++) {
          await executor.execute(new Deposit(stream(prefix, client, i), 1));
        }
      });
      return n * concurrency;
    },
  });

  const transferPrefix = (concurrency: number, cache: boolean) =>
    `transfer${cache ? '' : '-nocache'}-c${concurrency}`;
  const transfer = (concurrency: number, cache = true): Scenario => ({
    name: cache
      ? `pg.command.transfer.c${concurrency}`
      : `pg.command.transfer.nocache.c${concurrency}`,
    unit: 'commands/s',
    concurrency,
    // The raw transfer is measured at the levels of the targets; elsewhere, the insert.
    ...limits(
      RAW_TRANSFER_LEVELS.includes(concurrency)
        ? `transfer.c${concurrency}`
        : `insert.c${concurrency}`,
    ),
    async prepare() {
      // Fresh accounts every run, cache or not: pairs change from one command to the next, so
      // cached boundaries are often stale and commands read; reused streams would grow and make
      // those reads ever longer.
      round++;
      await openAccounts(store, accountsOf(transferPrefix(concurrency, cache), concurrency), funds);
    },
    async run() {
      const n = perClient(concurrency);
      const executor = cache ? cached : uncached;
      const prefix = transferPrefix(concurrency, cache);
      await runConcurrently(concurrency, concurrency, async (client) => {
        for (let i = 0; i < n; i++) {
          // Pairs change from one command to the next (as in the first version of this bench).
          const [a, b] = [stream(prefix, client, 2 * i), stream(prefix, client, 2 * i + 1)];
          await executor.execute(
            i % 2 === 0 ? new TransferMoney(a, b, 1) : new TransferMoney(b, a, 1),
          );
        }
      });
      return n * concurrency;
    },
  });

  let contendedAccounts: StreamId[] = [];
  const contended: Scenario = {
    name: 'pg.command.transfer.contended.c16',
    unit: 'commands/s',
    concurrency: 16,
    ...limits('transfer.c16'),
    async prepare() {
      // Fresh accounts per run: every conflict re-reads both streams, so ever-longer streams would
      // measure folds (and starve retries), not contention.
      round++;
      contendedAccounts = Array.from({ length: 4 }, (_, i) =>
        accountStream(`contended-${round}-${i}`),
      );
      await openAccounts(store, contendedAccounts, funds);
    },
    async run() {
      const accounts = contendedAccounts;
      const n = Math.ceil((quick ? 200 : 400) / 16);
      await runConcurrently(16, 16, async (client) => {
        for (let i = 0; i < n; i++) {
          const from = accounts[(client + i) % 4]!;
          const to = accounts[(client + i + 1 + (i % 3)) % 4]!;
          await cached.execute(new TransferMoney(from, to, 1), {
            retry: { maxAttempts: 200, initialDelayMs: 1, maxDelayMs: 20, timeoutMs: 60_000 },
          });
        }
      });
      return n * 16;
    },
  };

  const batch = (id: StreamId): StreamWrite[] => [
    {
      streamId: id,
      expected: ExpectedVersion.any,
      events: Array.from({ length: 1000 }, (_, i) => ({
        id: newEventId(),
        type: 'MoneyDeposited',
        data: { amount: i, note: 'batch' },
        metadata: { correlationId: 'bench', causationId: 'bench', userId: null, custom: {} },
        occurredAt: new Date().toISOString(),
      })),
    },
  ];
  const batches = quick ? 5 : 20;

  // Two accounts: opened, then 100,000 and 100 deposits.
  const longStream = accountStream('fold-100k');
  const shortStream = accountStream('short-100');
  let longReady = false;
  const prepareStreams = async () => {
    if (longReady) return;
    await openAccounts(store, [longStream, shortStream], 0, opened);
    for (let b = 0; b < 100; b++) await store.append(batch(longStream));
    await store.append([
      { ...batch(shortStream)[0]!, events: batch(shortStream)[0]!.events.slice(0, 100) },
    ]);
    await pool.query('ANALYZE bench.events');
    longReady = true;
  };
  const onStream = (name: string, id: StreamId, rawLimit?: string): Scenario => ({
    name,
    unit: 'commands/s',
    concurrency: 1,
    rawLimit,
    setup: prepareStreams,
    async run() {
      // The warm-up run reads the stream once and caches its state; later commands append only.
      const n = quick ? 100 : 500;
      for (let i = 0; i < n; i++) await cached.execute(new Deposit(id, 1));
      return n;
    },
  });

  return [
    ...CONCURRENCY_LEVELS.flatMap((c) => [
      raw.insert('minimal', c),
      raw.insert('schema', c),
      single(c),
      transfer(c),
    ]),
    ...RAW_TRANSFER_LEVELS.flatMap((c) => [
      raw.command('minimal', c),
      raw.command('schema', c),
      single(c, false),
      raw.transfer('minimal', c),
      raw.transfer('schema', c),
    ]),
    transfer(16, false),
    contended,
    raw.multirow('minimal'),
    raw.multirow('schema'),
    {
      name: 'pg.append.batch1000',
      unit: 'events/s',
      concurrency: 1,
      ...limits('multirow1000'),
      async run() {
        for (let b = 0; b < batches; b++) await store.append(batch(streamId(`batch-${++round}`)));
        return batches * 1000;
      },
    },
    ...rawSelectScenarios(pool, longStream, prepareStreams),
    {
      name: 'pg.fold.100k',
      unit: 'events/s',
      concurrency: 1,
      ...limits('select100k'),
      setup: prepareStreams,
      async run() {
        const read = await store.readStreams([longStream]);
        let total = 0;
        for (const event of read.events) total += (event.data as { amount?: number }).amount ?? 0;
        if (total < 0) throw new Error('unreachable');
        return read.events.length;
      },
    },
    onStream('pg.command.short_stream', shortStream),
    onStream('pg.command.long_stream', longStream, 'pg.command.short_stream'),
    ...dcbScenarios(store, pool, quick),
  ];
}
