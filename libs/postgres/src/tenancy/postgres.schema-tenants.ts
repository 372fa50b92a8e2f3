import { InvalidOptionsError, type Position } from '@eventcore/core';
import { Pool } from 'pg';
import { PgPoolSqlExecutor } from '../executor/pg-pool.sql-executor';
import { createStorePool } from '../executor/store-pool';
import type { SqlExecutor } from '../executor/sql-executor';
import type { PostgresEventStore } from '../postgres.event-store';
import { createPostgresEventStore } from '../postgres.factory';
import { type PostgresEventStoreOptions, resolvePostgresOptions } from '../postgres.options';
import {
  createPostgresCheckpointStore,
  PostgresCheckpointStore,
} from '../projection/postgres.checkpoint-store';
import { PostgresLeaseLock } from '../projection/postgres.lease-lock';
import { checkSchemaName, MIGRATION_LOCK_NAMESPACE, quoted } from '../schema/schema-name';

/**
 * Longest tenant schema name. Prepared statement names are `eventcore_<statement>_<schema>` and
 * PostgreSQL compares only their first 63 bytes, so two longer schema names sharing a prefix
 * would collide on a pooled connection ("prepared statement already exists").
 */
export const MAX_TENANT_SCHEMA_LENGTH = 40;

/** Options of {@link createPostgresSchemaTenants}. Give `connectionString` or `pool`. */
export interface PostgresSchemaTenantsOptions {
  /** The shared database; the tenants open one pool on it and end it on `close()`. */
  readonly connectionString?: string;
  /** A pool you own, shared by every tenant and never ended here. */
  readonly pool?: Pool;
  /**
   * Connections of the pool every tenant shares (a connection serves any tenant's schema). Budget
   * it against the server's `max_connections` across every app instance.
   * @default 20
   */
  readonly poolSize?: number;
  /** Start of each tenant's schema name: `<prefix><tenant id>`. @default 'tenant_' */
  readonly schemaPrefix?: string;
  /** Schema of the directory table (`tenants`). @default 'eventcore_tenants' */
  readonly directorySchema?: string;
  /** Options of every tenant's store (timeouts, retry, batching); `pool`, `schema` and `migrate` are set here. */
  readonly store?: Omit<
    PostgresEventStoreOptions,
    'connectionString' | 'pool' | 'schema' | 'migrate' | 'poolSize'
  >;
}

/** One tenant's open parts, on the shared pool (what `TenantStores.open` answers). */
export interface PostgresTenantParts {
  readonly eventStore: PostgresEventStore;
  readonly checkpointStore: PostgresCheckpointStore;
  readonly projectionLock: PostgresLeaseLock;
  /**
   * For a tenant moved between servers: turns a position token given before the move into one of
   * its current database (see `PostgresDatabaseTenants.move`). @default none: never moved
   */
  readonly translatePosition?: (position: Position) => Position;
}

/** One row of the directory. */
interface TenantRow {
  tenant_id: string;
  schema_name: string;
  created_at: Date | string;
}

/**
 * Tenants as schemas on one shared PostgreSQL database (the `'schema'` placement of
 * `EventCoreModule`'s `tenancy` option): each tenant's events, checkpoints, dead letters and
 * projection leases live in its own schema `<prefix><tenant id>`, listed in a directory table, and
 * every tenant's store runs over ONE shared pool (the stores never end it). Projections are
 * elected with lease rows over that pool (no connection per tenant) and poll for new events.
 *
 * Pass it as `tenancy.stores`; `TenantDirectory` (in `@eventcore/nestjs`) caches and guards it.
 */
export class PostgresSchemaTenants {
  /** The placement these stores implement (checked against `tenancy.placement`). */
  readonly placement = 'schema' as const;
  private readonly opened = new Map<string, Promise<PostgresTenantParts>>();
  private readonly directory: string;
  private readonly prefix: string;

  constructor(
    private readonly pool: Pool,
    private readonly executor: SqlExecutor,
    private readonly options: PostgresSchemaTenantsOptions,
  ) {
    this.directory = quoted(checkSchemaName(options.directorySchema ?? 'eventcore_tenants'));
    this.prefix = options.schemaPrefix ?? 'tenant_';
    if (typeof this.prefix !== 'string' || !/^[a-z_][a-z0-9_]{0,15}$/.test(this.prefix)) {
      throw new InvalidOptionsError(
        'schemaPrefix',
        'use 1–16 lower-case letters, digits or underscores, starting with a letter or underscore',
      );
    }
  }

  /** The schema of `tenantId`, e.g. `tenant_acme`. @throws InvalidOptionsError when it would be too long */
  schemaOf(tenantId: string): string {
    const schema = checkSchemaName(`${this.prefix}${tenantId}`);
    if (schema.length > MAX_TENANT_SCHEMA_LENGTH) {
      throw new InvalidOptionsError(
        'tenant id',
        `schema "${schema}" is longer than ${MAX_TENANT_SCHEMA_LENGTH} characters (prepared statement names would collide): use a shorter id or prefix`,
      );
    }
    return schema;
  }

  /** Creates the directory table when missing; done by {@link createPostgresSchemaTenants}. */
  async migrate(): Promise<void> {
    await this.executor.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        MIGRATION_LOCK_NAMESPACE,
        this.directory,
      ]);
      await tx.query(`CREATE SCHEMA IF NOT EXISTS ${this.directory}`);
      await tx.query(
        `CREATE TABLE IF NOT EXISTS ${this.directory}.tenants (
           tenant_id text PRIMARY KEY,
           schema_name text NOT NULL UNIQUE,
           created_at timestamptz NOT NULL DEFAULT now())`,
      );
    });
  }

  /**
   * Creates the tenant's schema with the event store's and the projections' tables (migrated),
   * then records it; `false` when it was already recorded (its schema is brought up to date).
   */
  async create(tenantId: string): Promise<boolean> {
    const schema = this.schemaOf(tenantId);
    const store = await this.createStore(schema, true);
    try {
      await createPostgresCheckpointStore(store);
    } finally {
      await store.close();
    }
    const rows = await this.executor.query(
      `INSERT INTO ${this.directory}.tenants (tenant_id, schema_name) VALUES ($1, $2)
       ON CONFLICT (tenant_id) DO NOTHING RETURNING 1 AS created`,
      [tenantId, schema],
    );
    return rows.length === 1;
  }

  /** Every tenant, by id. */
  async list(): Promise<{ tenantId: string; location: string; createdAt: string }[]> {
    const rows = await this.executor.query<TenantRow>(
      `SELECT tenant_id, schema_name, created_at FROM ${this.directory}.tenants ORDER BY tenant_id`,
    );
    return rows.map((row) => ({
      tenantId: row.tenant_id,
      location: `schema ${row.schema_name}`,
      createdAt: new Date(row.created_at).toISOString(),
    }));
  }

  /** The tenant's store, checkpoints and lease lock over the shared pool; `undefined` when unknown. */
  async open(tenantId: string): Promise<PostgresTenantParts | undefined> {
    const [row] = await this.executor.query<TenantRow>(
      `SELECT schema_name FROM ${this.directory}.tenants WHERE tenant_id = $1`,
      [tenantId],
    );
    if (row === undefined) return undefined;
    let opening = this.opened.get(tenantId);
    if (opening === undefined) {
      opening = this.openParts(row.schema_name);
      this.opened.set(tenantId, opening);
      opening.catch(() => this.opened.delete(tenantId));
    }
    return opening;
  }

  /**
   * Deletes the tenant's record and drops its schema — every event, checkpoint and read-model
   * table in it — in one transaction: the documented administrative path around the events
   * table's refusal of DELETE. Closes its parts here first. `false` when the tenant is unknown.
   */
  async remove(tenantId: string): Promise<boolean> {
    const opening = this.opened.get(tenantId);
    this.opened.delete(tenantId);
    if (opening !== undefined) await closeParts(await opening.catch(() => undefined));
    return this.executor.transaction(async (tx) => {
      const [row] = await tx.query<TenantRow>(
        `DELETE FROM ${this.directory}.tenants WHERE tenant_id = $1 RETURNING schema_name`,
        [tenantId],
      );
      if (row === undefined) return false;
      await tx.query(`DROP SCHEMA IF EXISTS ${quoted(checkSchemaName(row.schema_name))} CASCADE`);
      return true;
    });
  }

  /** Closes every tenant's parts, then the pool when it was opened here. */
  async close(): Promise<void> {
    const parts = await Promise.allSettled(this.opened.values());
    this.opened.clear();
    await Promise.all(
      parts.map((p) => (p.status === 'fulfilled' ? closeParts(p.value) : undefined)),
    );
    await this.executor.close();
  }

  private async openParts(schema: string): Promise<PostgresTenantParts> {
    // Migrated by create(); a tenant created by an older version is brought up to date by create().
    const eventStore = await this.createStore(schema, false);
    return {
      eventStore,
      // Projection batches are the long transactions here: named after the tenant's schema, the
      // one that holds the server's log back is named in health and in LogHeldBackError.
      checkpointStore: new PostgresCheckpointStore(
        namedTransactions(eventStore.sqlExecutor, `eventcore:${schema}`),
        schema,
      ),
      projectionLock: new PostgresLeaseLock(eventStore.sqlExecutor, { schema }),
    };
  }

  private createStore(schema: string, migrate: boolean): Promise<PostgresEventStore> {
    return createPostgresEventStore({ ...this.options.store, pool: this.pool, schema, migrate });
  }
}

/**
 * The executor with every transaction run as `applicationName` (`SET LOCAL`: the pooled session
 * gets its own name back at the end of the transaction), at one statement per transaction.
 */
function namedTransactions(executor: SqlExecutor, applicationName: string): SqlExecutor {
  const setName = `SET LOCAL application_name = '${applicationName}'`;
  return {
    query: (text, params, options) => executor.query(text, params, options),
    transaction: (work) =>
      executor.transaction(async (tx) => {
        await tx.query(setName);
        return work(tx);
      }),
    stats: () => executor.stats(),
    // The store owns the executor: closing it is the store's business.
    close: async () => undefined,
  };
}

async function closeParts(parts: PostgresTenantParts | undefined): Promise<void> {
  if (parts === undefined) return;
  await parts.projectionLock.close();
  await parts.eventStore.close();
}

/**
 * Tenants as schemas on one shared database, over one pool: see {@link PostgresSchemaTenants}.
 * Creates the directory table when missing.
 * @throws InvalidOptionsError for bad options; StoreUnavailableError when the database cannot be reached
 */
export async function createPostgresSchemaTenants(
  options: PostgresSchemaTenantsOptions,
): Promise<PostgresSchemaTenants> {
  const resolved = resolvePostgresOptions({
    ...options.store,
    connectionString: options.connectionString,
    pool: options.pool,
    poolSize: options.poolSize ?? 20,
  });
  const ownsPool = options.pool === undefined;
  const pool =
    options.pool ?? createStorePool(options.connectionString, resolved, 'eventcore-tenants');
  const tenants = new PostgresSchemaTenants(pool, new PgPoolSqlExecutor(pool, ownsPool), options);
  try {
    await tenants.migrate();
    return tenants;
  } catch (error) {
    await tenants.close().catch(() => undefined);
    throw error;
  }
}
