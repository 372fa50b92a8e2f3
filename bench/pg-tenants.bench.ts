import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { CommandExecutor, type StreamId } from '@eventcore/core';
import {
  createPostgresEventStore,
  createPostgresSchemaTenants,
  type PostgresEventStore,
  type PostgresSchemaTenants,
} from '@eventcore/postgres';
import { createTestDatabase } from '@eventcore/postgres/testing';
import { Pool } from 'pg';
import { startPostgresServer } from '../test/support/postgres-server';
import { accountStream, Deposit, openAccounts } from './accounts';
import { measure, runConcurrently, type Scenario, type ScenarioResult } from './harness';
import { rawLimits, rawName, rawTablesSql } from './pg-raw.scenarios';

const CLIENTS = 16;
/** Connections of each server's pool: every client can have a statement in flight on either. */
const POOL_PER_SERVER = 16;
const ACCOUNTS_PER_TENANT = 4;
const COMMANDS = 3_000;
const RUNS = 5;
/** Tenants created at once: each creation runs the store's migrations in a new schema. */
const CREATE_CONCURRENCY = 4;

/** One tenant, opened: its executor (a state cache of its own, as under `TenantDirectory`). */
interface BenchTenant {
  readonly executor: CommandExecutor;
}

/**
 * `npm run bench -- --tenants [--tenants-count N]`: N schema tenants (1,000 by default), half on
 * the shared server and half on a private PostgreSQL 15 server the bench starts and stops
 * (test/support/postgres-server.ts), each server's tenants on one pool of 16 connections. 16
 * clients run deposits spread over every tenant (client c's i-th command goes to tenant
 * (c + 16·i) mod N, each tenant on its own executor), beside the same deposits on one store in one
 * database of the shared server (16 connections), with and without append batching, and the raw
 * limit (one-row INSERT transactions at 16 connections on a table with EventCore's columns), all
 * in the same run. Prints JSON and writes `bench/results/tenants-latest.json`. Not part of
 * `--quick` or CI: creating the tenants takes minutes.
 */
export async function runTenantsBench(tenantCount: number): Promise<void> {
  if (!Number.isSafeInteger(tenantCount) || tenantCount < 2) {
    throw new Error(`--tenants-count must be an integer >= 2, not ${tenantCount}`);
  }
  const server = await startPostgresServer({ maxConnections: 60 });
  const database = await createTestDatabase();
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const shards: PostgresSchemaTenants[] = [
      await createPostgresSchemaTenants({
        connectionString: database.url,
        poolSize: POOL_PER_SERVER,
      }),
      await createPostgresSchemaTenants({
        connectionString: server.url(),
        poolSize: POOL_PER_SERVER,
      }),
    ];
    for (const shard of shards) closers.push(() => shard.close());

    // --- Tenants: created (timed), opened, their accounts opened ---
    const ids = Array.from({ length: tenantCount }, (_, n) => `t${n}`);
    const createStarted = Date.now();
    await runConcurrently(ids.length, CREATE_CONCURRENCY, (n) => shards[n % 2]!.create(ids[n]!));
    const createSeconds = (Date.now() - createStarted) / 1000;
    const accounts: StreamId[] = Array.from({ length: ACCOUNTS_PER_TENANT }, (_, a) =>
      accountStream(`a${a}`),
    );
    const tenants: BenchTenant[] = [];
    for (const [n, id] of ids.entries()) {
      const parts = (await shards[n % 2]!.open(id))!;
      await openAccounts(parts.eventStore, accounts, 0);
      tenants.push({
        executor: new CommandExecutor(parts.eventStore, { stateCache: { maxEntries: 100 } }),
      });
    }
    // The same tenants through pools without named prepared statements (see docs/multi-tenancy.md).
    const unpreparedShards = [database.url, server.url()].map((connectionString) =>
      createPostgresSchemaTenants({
        connectionString,
        poolSize: POOL_PER_SERVER,
        store: { preparedStatements: false },
      }),
    );
    const unpreparedOn = await Promise.all(unpreparedShards);
    for (const shard of unpreparedOn) closers.push(() => shard.close());
    const unprepared: BenchTenant[] = [];
    for (const [n, id] of ids.entries()) {
      const parts = (await unpreparedOn[n % 2]!.open(id))!;
      unprepared.push({
        executor: new CommandExecutor(parts.eventStore, { stateCache: { maxEntries: 100 } }),
      });
    }

    // --- One database: the same deposits on one store, and the raw limit beside it ---
    const single: PostgresEventStore = await createPostgresEventStore({
      connectionString: database.url,
      poolSize: CLIENTS,
      schema: 'bench_single',
    });
    closers.unshift(() => single.close());
    const singleAccounts = Array.from({ length: tenantCount }, (_, n) => accountStream(`s${n}`));
    await openAccounts(single, singleAccounts, 0);
    const singleExecutor = new CommandExecutor(single, { stateCache: { maxEntries: 100_000 } });
    // The same without append batching: a tenant's store batches only its own appends, so spread
    // over many tenants the appends of concurrent commands rarely share a round trip.
    const unbatched: PostgresEventStore = await createPostgresEventStore({
      connectionString: database.url,
      poolSize: CLIENTS,
      schema: 'bench_unbatched',
      appendBatching: false,
    });
    closers.unshift(() => unbatched.close());
    await openAccounts(unbatched, singleAccounts, 0);
    const unbatchedExecutor = new CommandExecutor(unbatched, {
      stateCache: { maxEntries: 100_000 },
    });
    const pool = new Pool({ connectionString: database.url, max: CLIENTS });
    closers.unshift(() => pool.end());
    for (const statement of rawTablesSql('bench_single.events')) await pool.query(statement);

    const perClient = Math.ceil(COMMANDS / CLIENTS);
    const spread = (c: number, i: number) => (c + CLIENTS * i) % tenantCount;
    /** `perClient` deposits by each of the clients, the `i`-th of client `c` made by `deposit`. */
    const deposits = (
      name: string,
      deposit: (c: number, i: number) => Promise<unknown>,
    ): Scenario => ({
      name,
      unit: 'commands/s',
      concurrency: CLIENTS,
      rawLimit: rawName('schema', `insert.c${CLIENTS}`),
      async run() {
        await runConcurrently(CLIENTS, CLIENTS, async (c) => {
          for (let i = 0; i < perClient; i++) await deposit(c, i);
        });
        return perClient * CLIENTS;
      },
    });
    const onTenants = (name: string, on: readonly BenchTenant[]): Scenario =>
      deposits(name, (c, i) =>
        on[spread(c, i)]!.executor.execute(new Deposit(accounts[i % ACCOUNTS_PER_TENANT]!, 1)),
      );
    const scenarios: Scenario[] = [
      onTenants(`tenants.command.deposit.c${CLIENTS}`, tenants),
      // Again, once every (connection, tenant) pair has been used: the steady state.
      onTenants(`tenants.command.deposit.warm.c${CLIENTS}`, tenants),
      onTenants(`tenants.command.deposit.unprepared.c${CLIENTS}`, unprepared),
      deposits(`single.command.deposit.c${CLIENTS}`, (c, i) =>
        singleExecutor.execute(new Deposit(singleAccounts[spread(c, i)]!, 1)),
      ),
      deposits(`single.command.deposit.unbatched.c${CLIENTS}`, (c, i) =>
        unbatchedExecutor.execute(new Deposit(singleAccounts[spread(c, i)]!, 1)),
      ),
      rawLimits(pool, false).insert('schema', CLIENTS),
    ];
    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      const result = await measure(scenario, RUNS, false);
      results.push(result);
      console.error(`${result.name}: ${result.median} ${result.unit}`);
    }
    const byName = new Map(results.map((r) => [r.name, r]));
    for (const [n, result] of results.entries()) {
      const name = scenarios[n]!.rawLimit;
      const limit = name === undefined ? undefined : byName.get(name);
      if (limit !== undefined) {
        result.rawLimit = { name: limit.name, median: limit.median };
        result.ratio = Math.round((result.median / limit.median) * 1000) / 1000;
      }
    }
    const report = {
      bench: 'tenants',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version },
      tenants: tenantCount,
      servers: 2,
      clients: CLIENTS,
      poolPerServer: POOL_PER_SERVER,
      accountsPerTenant: ACCOUNTS_PER_TENANT,
      createTenantsSeconds: Math.round(createSeconds * 10) / 10,
      privateServerStartMs: server.startMs,
      results,
    };
    const json = JSON.stringify(report, null, 2);
    console.log(json);
    const dir = join(__dirname, '..', '..', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tenants-latest.json'), `${json}\n`);
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await database.drop().catch(() => undefined);
    await server.stop();
  }
}
