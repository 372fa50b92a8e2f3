import { InvalidOptionsError, type Position } from '@eventcore/core';
import { Client, Pool } from 'pg';
import { decodePosition, encodePosition, START } from '../position';
import { PgPoolSqlExecutor } from '../executor/pg-pool.sql-executor';
import { STORE_SESSION_OPTIONS } from '../executor/store-pool';
import type { SqlExecutor, SqlQueryable } from '../executor/sql-executor';
import type { PostgresEventStore } from '../postgres.event-store';
import { createPostgresEventStore } from '../postgres.factory';
import { type PostgresEventStoreOptions, resolvePostgresOptions } from '../postgres.options';
import { createPostgresCheckpointStore } from '../projection/postgres.checkpoint-store';
import { PostgresLeaseLock } from '../projection/postgres.lease-lock';
import { checkSchemaName, MIGRATION_LOCK_NAMESPACE, quoted } from '../schema/schema-name';
import type { PostgresTenantParts } from './postgres.schema-tenants';
import { copyTenantLog, type TenantLogCopy } from './tenant-log-copy';

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
  /**
   * How long a (tenant, projection) lease lasts without renewal: the time another instance waits
   * before it takes over the projections of an instance that died. Renewed every third of it.
   * @default 15000
   */
  readonly leaseTtlMs?: number;
  /**
   * Called by {@link PostgresDatabaseTenants.move} after the events and checkpoints were copied,
   * before the directory switches: copy here the read models your projections keep in the
   * tenant's database (`source` is read-only), since their checkpoints move with them.
   * @default none: nothing but the event store and its checkpoints is copied
   */
  readonly onMove?: (move: TenantDatabaseMove) => Promise<void>;
  /** Options of every tenant's store; `pool`, `schema` and `migrate` are set here. */
  readonly store?: Omit<
    PostgresEventStoreOptions,
    'connectionString' | 'pool' | 'schema' | 'migrate' | 'poolSize'
  >;
}

/** What {@link PostgresDatabaseTenantsOptions.onMove} gets: the two databases of a move. */
export interface TenantDatabaseMove {
  readonly tenantId: string;
  /** The tenant's current database, read-only while it moves. */
  readonly source: SqlQueryable;
  /** The new database: migrated, holding the copied events and checkpoints. */
  readonly target: SqlQueryable;
}

/** Options of {@link PostgresDatabaseTenants.move}. */
export interface PostgresTenantMoveRequest {
  /** The server (see `addServer`) to move the tenant to. */
  readonly targetServer: string;
  /** Projections whose checkpoints move with the tenant, translated to the target's positions. */
  readonly projections: readonly string[];
  /** Keep the source database (read-only) after the switch instead of dropping it. @default false */
  readonly keepSource?: boolean;
}

/** What {@link PostgresDatabaseTenants.move} did. */
export interface PostgresTenantMoveResult {
  /** The server the tenant was on. */
  readonly from: string;
  /** The server it is on now. */
  readonly to: string;
  /** Events copied. */
  readonly events: number;
  /** Each projection's checkpoint on the target (`null`: from the beginning). */
  readonly checkpoints: Readonly<Record<string, Position | null>>;
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
  moved_source_head: string | null;
  moved_target_head: string | null;
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
  private readonly leaseTtlMs: number;

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
    this.leaseTtlMs = options.leaseTtlMs ?? 15_000;
    if (!Number.isSafeInteger(this.leaseTtlMs) || this.leaseTtlMs < 500) {
      throw new InvalidOptionsError(
        'leaseTtlMs',
        'use an integer number of milliseconds >= 500 (the lease is renewed every third of it)',
      );
    }
    if (options.onMove !== undefined && typeof options.onMove !== 'function') {
      throw new InvalidOptionsError(
        'onMove',
        'give an async function that copies your read models',
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
      // Where a moved tenant came from: read-your-writes tokens issued before the move.
      await tx.query(
        `CREATE TABLE IF NOT EXISTS ${DIRECTORY}.tenant_moves (
           tenant_id text PRIMARY KEY REFERENCES ${DIRECTORY}.tenant_databases (tenant_id) ON DELETE CASCADE,
           source_head bigint NOT NULL,
           target_head text NOT NULL,
           moved_at timestamptz NOT NULL DEFAULT now())`,
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

  /**
   * Whether `error`, met on `parts` of the tenant opened here, says its database was left behind
   * by a move (run by another instance): read-only since the move started (SQLSTATE 25006), or
   * dropped after it (3D000). If so those parts are closed, so the next `open` follows the
   * directory; parts opened since are left alone.
   */
  async release(tenantId: string, parts: unknown, error: unknown): Promise<boolean> {
    if (!movedAway(error)) return false;
    const opening = this.opened.get(tenantId);
    const open = opening === undefined ? undefined : await opening.catch(() => undefined);
    if (open !== undefined && open.parts === parts && this.opened.get(tenantId) === opening) {
      this.opened.delete(tenantId);
      await closeDatabase(open);
    }
    return true;
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

  /**
   * Moves a tenant's database to another server; the caller ({@link TenantDirectory.moveTenant}
   * in `@eventcore/nestjs`) has stopped its commands and projections in this process. Steps:
   * the source database becomes read-only (`default_transaction_read_only`, and its other sessions
   * are ended, so no instance can write there any more); a fresh target database is created and
   * migrated (a leftover of an earlier failed move is dropped first); every event is appended
   * anew in the source's log order, keeping ids, versions, types, data, metadata and occurred-at
   * times (recorded-at becomes the import time); each named projection's checkpoint is
   * translated; `onMove` copies read models; then the directory points at the target in one
   * transaction, and the source is dropped (or kept read-only with `keepSource`).
   *
   * Until that switch the source stays authoritative: on any failure the target is dropped, the
   * source is made writable again and the error is rethrown, so a move can simply be retried. A
   * process that dies mid-move leaves the source read-only and a half-filled target the next
   * attempt replaces; the directory still names the source.
   * @returns `undefined` for an unknown tenant
   * @throws InvalidOptionsError for an unknown target server, or the tenant's own
   */
  async move(
    tenantId: string,
    request: PostgresTenantMoveRequest,
  ): Promise<PostgresTenantMoveResult | undefined> {
    const row = await this.row(tenantId);
    if (row === undefined) return undefined;
    const target = await this.placeOn(checkServerName(request.targetServer));
    if (target.name === row.server) {
      throw new InvalidOptionsError(
        'targetServer',
        `tenant ${JSON.stringify(tenantId)} is already on server ${JSON.stringify(row.server)}`,
      );
    }
    const opening = this.opened.get(tenantId);
    this.opened.delete(tenantId);
    if (opening !== undefined) await closeDatabase(await opening.catch(() => undefined));
    await fence(row.url, row.database_name, true);
    let source: OpenDatabase | undefined;
    let copy: OpenDatabase | undefined;
    try {
      source = await this.openDatabase(row);
      await dropDatabase(target.url, row.database_name);
      await createDatabase(target.url, row.database_name);
      copy = await this.openDatabase(
        {
          ...row,
          server: target.name,
          url: target.url,
          moved_source_head: null,
          moved_target_head: null,
        },
        true,
      );
      const log = await copyTenantLog(
        { store: source.parts.eventStore, checkpoints: source.parts.checkpointStore },
        { store: copy.parts.eventStore, checkpoints: copy.parts.checkpointStore },
        request.projections,
        30_000,
        (head) =>
          advancePositions(copy!.parts.eventStore.sqlExecutor, copy!.parts.eventStore.schema, head),
      );
      await this.options.onMove?.({
        tenantId,
        source: source.parts.eventStore.sqlExecutor,
        target: copy.parts.eventStore.sqlExecutor,
      });
      await this.switchTo(row, target.name, log);
      await closeDatabase(copy);
      await closeDatabase(source);
      if (request.keepSource !== true) await dropDatabase(row.url, row.database_name);
      return {
        from: row.server,
        to: target.name,
        events: log.events,
        checkpoints: log.checkpoints,
      };
    } catch (error) {
      await closeDatabase(copy).catch(() => undefined);
      await closeDatabase(source).catch(() => undefined);
      if ((await this.row(tenantId).catch(() => undefined))?.server === row.server) {
        await dropDatabase(target.url, row.database_name).catch(() => undefined);
        await fence(row.url, row.database_name, false);
      }
      throw error;
    }
  }

  /** Points the directory at the target, if it still names the source (compare and set). */
  private async switchTo(row: TenantRow, server: string, log: TenantLogCopy): Promise<void> {
    await this.directory.transaction(async (tx) => {
      const moved = await tx.query(
        `UPDATE ${DIRECTORY}.tenant_databases SET server = $2
         WHERE tenant_id = $1 AND server = $3 RETURNING 1 AS moved`,
        [row.tenant_id, server, row.server],
      );
      if (moved.length !== 1) {
        throw new Error(
          `tenant ${row.tenant_id} is no longer on server ${row.server}: another move switched it first`,
        );
      }
      if (log.targetHead !== undefined) {
        await tx.query(
          `INSERT INTO ${DIRECTORY}.tenant_moves (tenant_id, source_head, target_head)
           VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE
           SET source_head = EXCLUDED.source_head, target_head = EXCLUDED.target_head, moved_at = now()`,
          [row.tenant_id, String(log.sourceHead), log.targetHead],
        );
      }
    });
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
      `SELECT t.tenant_id, t.server, t.database_name, s.url, t.created_at,
              m.source_head AS moved_source_head, m.target_head AS moved_target_head
       FROM ${DIRECTORY}.tenant_databases t JOIN ${DIRECTORY}.servers s ON s.name = t.server
       LEFT JOIN ${DIRECTORY}.tenant_moves m ON m.tenant_id = t.tenant_id
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

  private async openDatabase(row: TenantRow, migrate = false): Promise<OpenDatabase> {
    const pool = this.poolFor(row.url, row.database_name);
    try {
      const eventStore: PostgresEventStore = await createPostgresEventStore({
        ...this.options.store,
        pool,
        migrate,
      });
      return {
        pool,
        parts: {
          eventStore,
          checkpointStore: await createPostgresCheckpointStore(eventStore, { migrate }),
          projectionLock: new PostgresLeaseLock(eventStore.sqlExecutor, {
            schema: eventStore.schema,
            ttlMs: this.leaseTtlMs,
          }),
          ...(row.moved_source_head === null || row.moved_target_head === null
            ? {}
            : {
                translatePosition: beforeMove(
                  BigInt(row.moved_source_head),
                  row.moved_target_head as Position,
                ),
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
      options: STORE_SESSION_OPTIONS,
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

/**
 * Makes a database read-only for every new session and ends its other sessions (so no instance
 * keeps writing through an open connection), or writable again. The role must own the database.
 */
async function fence(serverUrl: string, database: string, readOnly: boolean): Promise<void> {
  await onServer(
    serverUrl,
    `ALTER DATABASE ${quoted(database)} ${readOnly ? 'SET default_transaction_read_only = on' : 'RESET default_transaction_read_only'}`,
  );
  if (!readOnly) return;
  await onServer(
    serverUrl,
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = ${quoteLiteral(database)} AND pid <> pg_backend_pid()`,
  );
}

/**
 * Starts the target's global positions after the source's last one, so every position the target
 * gives is greater than every position the source gave: a token from before the move is then
 * recognised by its global position alone (see {@link beforeMove}).
 */
async function advancePositions(target: SqlQueryable, schema: string, head: number): Promise<void> {
  if (head > 0) {
    await target.query(`SELECT setval($1::regclass, $2::bigint)`, [
      `${quoted(schema)}.events_position_seq`,
      String(head),
    ]);
  }
}

/**
 * Translates a position token of a tenant's log to its current server: a token the source gave
 * before the move (global position at most the source's last) becomes the end of the imported log,
 * which is at or after the event it named, so a read-your-writes wait on it stays correct (it may
 * wait for a few more events, all already there). The start and the target's own tokens pass as
 * they are.
 */
function beforeMove(sourceHead: bigint, targetHead: Position): (position: Position) => Position {
  return (position) => {
    const at = decodePosition(position);
    if (at.globalPosition === START.globalPosition) return encodePosition(START);
    return BigInt(at.globalPosition) <= sourceHead ? targetHead : position;
  };
}

/** SQLSTATEs of a database a move left behind: read-only (fenced), or dropped. */
const LEFT_BEHIND = new Set(['25006', '3D000']);

function movedAway(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Object && depth < 5; depth++) {
    if (LEFT_BEHIND.has(String((e as { code?: unknown }).code))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Drops `database` on the server when it exists, ending its sessions. */
async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  await onServer(serverUrl, `DROP DATABASE IF EXISTS ${quoted(database)} WITH (FORCE)`);
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function checkServerName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionsError('targetServer', 'name a server registered with addServer');
  }
  return name;
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
