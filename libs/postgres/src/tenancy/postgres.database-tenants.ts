import { InvalidOptionsError } from '@eventcore/core';
import { Client, Pool } from 'pg';
import { PgPoolSqlExecutor } from '../executor/pg-pool.sql-executor';
import type { SqlExecutor } from '../executor/sql-executor';
import type { PostgresEventStore } from '../postgres.event-store';
import { createPostgresEventStore } from '../postgres.factory';
import { type PostgresEventStoreOptions, resolvePostgresOptions } from '../postgres.options';
import { createPostgresCheckpointStore } from '../projection/postgres.checkpoint-store';
import { PostgresLeaseLock } from '../projection/postgres.lease-lock';
import { checkSchemaName, MIGRATION_LOCK_NAMESPACE, quoted } from '../schema/schema-name';
import type { PostgresTenantParts } from './postgres.schema-tenants';

/** Options of {@link createPostgresDatabaseTenants}. */
export interface PostgresDatabaseTenantsOptions {
  /** The control database that holds the directory (servers and tenants). */
  readonly directoryConnectionString: string;
  /**
   * Connections of each tenant's own pool (a connection serves one database). Budget
   * `active tenants × poolSizePerTenant` per instance against each server's `max_connections`.
   * @default 2
   */
  readonly poolSizePerTenant?: number;
  /** A tenant's idle connections close after this long, so idle tenants hold none. @default 10000 */
  readonly idleTimeoutMs?: number;
  /** Start of each tenant's database name: `<prefix><tenant id>`. @default 'tenant_' */
  readonly databasePrefix?: string;
  /** Options of every tenant's store; `pool`, `schema` and `migrate` are set here. */
  readonly store?: Omit<
    PostgresEventStoreOptions,
    'connectionString' | 'pool' | 'schema' | 'migrate' | 'poolSize'
  >;
}

interface OpenDatabase {
  readonly pool: Pool;
  readonly parts: PostgresTenantParts;
}

interface TenantRow {
  tenant_id: string;
  server: string;
  database_name: string;
  url: string;
  created_at: Date | string;
}

const DIRECTORY = quoted('eventcore_tenants');

/**
 * Tenants as databases on a pool of PostgreSQL servers (the `'database'` placement): a directory
 * in a control database maps each tenant to a server and a database, servers can be added while
 * the application runs ({@link addServer}), and each tenant's database gets its own small pool,
 * opened on first use, whose idle connections close by themselves.
 *
 * Pass it as `tenancy.stores` with `placement: 'database'`.
 */
export class PostgresDatabaseTenants {
  /** The placement these stores implement (checked against `tenancy.placement`). */
  readonly placement = 'database' as const;
  private readonly opened = new Map<string, Promise<OpenDatabase>>();
  private readonly prefix: string;
  private readonly poolSize: number;
  private readonly idleTimeoutMs: number;

  constructor(
    private readonly directory: SqlExecutor,
    private readonly options: PostgresDatabaseTenantsOptions,
  ) {
    this.prefix = options.databasePrefix ?? 'tenant_';
    if (typeof this.prefix !== 'string' || !/^[a-z_][a-z0-9_]{0,29}$/.test(this.prefix)) {
      throw new InvalidOptionsError(
        'databasePrefix',
        'use 1–30 lower-case letters, digits or underscores, starting with a letter or underscore',
      );
    }
    this.poolSize = resolvePostgresOptions({
      connectionString: options.directoryConnectionString,
      poolSize: options.poolSizePerTenant ?? 2,
    }).poolSize;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
    if (!Number.isSafeInteger(this.idleTimeoutMs) || this.idleTimeoutMs < 100) {
      throw new InvalidOptionsError(
        'idleTimeoutMs',
        'use an integer number of milliseconds >= 100',
      );
    }
  }

  /** The database of `tenantId`, e.g. `tenant_acme`. */
  databaseOf(tenantId: string): string {
    return checkSchemaName(`${this.prefix}${tenantId}`);
  }

  /** Creates the directory tables when missing; done by {@link createPostgresDatabaseTenants}. */
  async migrate(): Promise<void> {
    await this.directory.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        MIGRATION_LOCK_NAMESPACE,
        DIRECTORY,
      ]);
      await tx.query(`CREATE SCHEMA IF NOT EXISTS ${DIRECTORY}`);
      await tx.query(
        `CREATE TABLE IF NOT EXISTS ${DIRECTORY}.servers (
           name text PRIMARY KEY,
           url text NOT NULL)`,
      );
      await tx.query(
        `CREATE TABLE IF NOT EXISTS ${DIRECTORY}.tenant_databases (
           tenant_id text PRIMARY KEY,
           server text NOT NULL REFERENCES ${DIRECTORY}.servers (name),
           database_name text NOT NULL,
           created_at timestamptz NOT NULL DEFAULT now(),
           UNIQUE (server, database_name))`,
      );
    });
  }

  /**
   * Adds a server (or changes its URL) while the application runs: new tenants may go there at
   * once. `url` names any database of the server the role may connect to (e.g. `postgres`); the
   * role needs `CREATEDB`.
   */
  async addServer(name: string, url: string): Promise<void> {
    checkSchemaName(name);
    if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) {
      throw new InvalidOptionsError('url', 'use a postgres:// URL of the server');
    }
    await this.directory.query(
      `INSERT INTO ${DIRECTORY}.servers (name, url) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url`,
      [name, url],
    );
  }

  /**
   * Creates the tenant's database on `server` (default: the server with the fewest tenants),
   * migrates it and records it; `false` when the tenant already existed (its database is brought
   * up to date).
   * @throws InvalidOptionsError when no server is registered, or `server` is unknown
   */
  async create(tenantId: string, server?: string): Promise<boolean> {
    const database = this.databaseOf(tenantId);
    const existing = await this.row(tenantId);
    const target =
      existing === undefined
        ? { ...(await this.placeOn(server)), database }
        : { name: existing.server, url: existing.url, database: existing.database_name };
    await createDatabase(target.url, target.database);
    const pool = this.poolFor(target.url, target.database);
    try {
      const store = await createPostgresEventStore({ ...this.options.store, pool, migrate: true });
      await createPostgresCheckpointStore(store);
      await store.close();
    } finally {
      await pool.end();
    }
    if (existing !== undefined) return false;
    const rows = await this.directory.query(
      `INSERT INTO ${DIRECTORY}.tenant_databases (tenant_id, server, database_name) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id) DO NOTHING RETURNING 1 AS created`,
      [tenantId, target.name, target.database],
    );
    return rows.length === 1;
  }

  /** Every tenant, by id, with its server and database. */
  async list(): Promise<{ tenantId: string; location: string; createdAt: string }[]> {
    const rows = await this.directory.query<TenantRow>(
      `SELECT t.tenant_id, t.server, t.database_name, t.created_at
       FROM ${DIRECTORY}.tenant_databases t ORDER BY t.tenant_id`,
    );
    return rows.map((row) => ({
      tenantId: row.tenant_id,
      location: `server ${row.server}, database ${row.database_name}`,
      createdAt: new Date(row.created_at).toISOString(),
    }));
  }

  /** The tenant's store, checkpoints and lease lock on its own database; `undefined` when unknown. */
  async open(tenantId: string): Promise<PostgresTenantParts | undefined> {
    let opening = this.opened.get(tenantId);
    if (opening === undefined) {
      const row = await this.row(tenantId);
      if (row === undefined) return undefined;
      opening = this.openDatabase(row);
      this.opened.set(tenantId, opening);
      opening.catch(() => this.opened.delete(tenantId));
    }
    return (await opening).parts;
  }

  /** Closes the tenant's pool, deletes its record and drops its database (`WITH (FORCE)`). */
  async remove(tenantId: string): Promise<boolean> {
    const opening = this.opened.get(tenantId);
    this.opened.delete(tenantId);
    if (opening !== undefined) await closeDatabase(await opening.catch(() => undefined));
    const row = await this.row(tenantId);
    if (row === undefined) return false;
    await this.directory.query(`DELETE FROM ${DIRECTORY}.tenant_databases WHERE tenant_id = $1`, [
      tenantId,
    ]);
    await onServer(row.url, `DROP DATABASE IF EXISTS ${quoted(row.database_name)} WITH (FORCE)`);
    return true;
  }

  /** Closes every tenant's pool and the directory's. */
  async close(): Promise<void> {
    const open = await Promise.allSettled(this.opened.values());
    this.opened.clear();
    await Promise.all(
      open.map((o) => (o.status === 'fulfilled' ? closeDatabase(o.value) : undefined)),
    );
    await this.directory.close();
  }

  private async row(tenantId: string): Promise<TenantRow | undefined> {
    const [row] = await this.directory.query<TenantRow>(
      `SELECT t.tenant_id, t.server, t.database_name, s.url, t.created_at
       FROM ${DIRECTORY}.tenant_databases t JOIN ${DIRECTORY}.servers s ON s.name = t.server
       WHERE t.tenant_id = $1`,
      [tenantId],
    );
    return row;
  }

  /** The named server, or the one with the fewest tenants. */
  private async placeOn(server: string | undefined): Promise<{ name: string; url: string }> {
    const [row] = await this.directory.query<{ name: string; url: string }>(
      `SELECT s.name, s.url FROM ${DIRECTORY}.servers s
       LEFT JOIN ${DIRECTORY}.tenant_databases t ON t.server = s.name
       WHERE $1::text IS NULL OR s.name = $1
       GROUP BY s.name, s.url ORDER BY count(t.tenant_id), s.name LIMIT 1`,
      [server ?? null],
    );
    if (row === undefined) {
      throw new InvalidOptionsError(
        'server',
        server === undefined
          ? 'no server is registered: call addServer(name, url) first'
          : `no server is named ${JSON.stringify(server)}`,
      );
    }
    return row;
  }

  private async openDatabase(row: TenantRow): Promise<OpenDatabase> {
    const pool = this.poolFor(row.url, row.database_name);
    try {
      const eventStore: PostgresEventStore = await createPostgresEventStore({
        ...this.options.store,
        pool,
        migrate: false,
      });
      return {
        pool,
        parts: {
          eventStore,
          checkpointStore: await createPostgresCheckpointStore(eventStore, { migrate: false }),
          projectionLock: new PostgresLeaseLock(eventStore.sqlExecutor, {
            schema: eventStore.schema,
          }),
        },
      };
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  private poolFor(serverUrl: string, database: string): Pool {
    const url = new URL(serverUrl);
    url.pathname = `/${database}`;
    const pool = new Pool({
      connectionString: url.toString(),
      max: this.poolSize,
      idleTimeoutMillis: this.idleTimeoutMs,
      keepAlive: true,
      application_name: `eventcore:${database}`,
    });
    // A broken idle connection must not crash the process (see createPostgresEventStore).
    pool.on('error', () => undefined);
    return pool;
  }
}

async function closeDatabase(open: OpenDatabase | undefined): Promise<void> {
  if (open === undefined) return;
  await open.parts.projectionLock.close();
  await open.parts.eventStore.close();
  await open.pool.end();
}

/** Creates `database` on the server unless it exists (a retried or concurrent create). */
async function createDatabase(serverUrl: string, database: string): Promise<void> {
  try {
    await onServer(serverUrl, `CREATE DATABASE ${quoted(database)}`);
  } catch (error) {
    // 42P04 duplicate_database; 23505 when two creates race in the catalog.
    const code = (error as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw error;
  }
}

/** Runs one statement that cannot run in a transaction (CREATE/DROP DATABASE) on the server. */
async function onServer(serverUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Tenants as databases on a pool of servers: see {@link PostgresDatabaseTenants}. Creates the
 * directory tables in the control database when missing.
 * @throws InvalidOptionsError for bad options
 */
export async function createPostgresDatabaseTenants(
  options: PostgresDatabaseTenantsOptions,
): Promise<PostgresDatabaseTenants> {
  const pool = new Pool({ connectionString: options.directoryConnectionString, max: 2 });
  pool.on('error', () => undefined);
  const tenants = new PostgresDatabaseTenants(new PgPoolSqlExecutor(pool, true), options);
  try {
    await tenants.migrate();
    return tenants;
  } catch (error) {
    await tenants.close().catch(() => undefined);
    throw error;
  }
}
