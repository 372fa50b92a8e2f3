import { resolveAppendBatching } from './append-batcher';
import { resolveReadBatching } from './read-batcher';
import { InvalidOptionsError } from '@eventcore/core';
import { PgPoolSqlExecutor } from './executor/pg-pool.sql-executor';
import { createStorePool } from './executor/store-pool';
import { PGliteSqlExecutor } from './executor/pglite.sql-executor';
import { PostgresEventStore } from './postgres.event-store';
import {
  type PGliteEventStoreOptions,
  type PostgresEventStoreOptions,
  resolveHeldBackWait,
  resolvePostgresOptions,
} from './postgres.options';
import { checkSchemaName, DEFAULT_SCHEMA } from './schema/schema-name';
import type { PGlite } from '@electric-sql/pglite';
import { lockEmbeddedDirectory } from './embedded/directory-lock';
import { embeddedFolder, ensureDirectoryOwner, holdUntilClosed } from './embedded/pglite-lock';

/**
 * Creates the event store on a PostgreSQL server (through a `pg` pool) and, unless
 * `migrate: false`, brings its schema up to date first.
 * @throws InvalidOptionsError for bad options; StoreUnavailableError when the database cannot be
 * reached within `connectTimeoutMs` (after the configured retries).
 */
export async function createPostgresEventStore(
  options: PostgresEventStoreOptions,
): Promise<PostgresEventStore> {
  const resolved = resolvePostgresOptions(options);
  // Both throw before a pool opens.
  resolveAppendBatching(options.appendBatching);
  resolveReadBatching(options.readBatching);
  resolveHeldBackWait(options.heldBackWaitMs);
  const schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const ownsPool = options.pool === undefined;
  const pool = options.pool ?? createStorePool(options.connectionString, resolved, 'eventcore');
  const executor = new PgPoolSqlExecutor(pool, ownsPool);
  const store = new PostgresEventStore(executor, {
    schema,
    // Checked above (resolvePostgresOptions); the factory's defaults apply to what is left out.
    retry: options.retry ?? {},
    circuitBreaker: options.circuitBreaker ?? {},
    preparedStatements: resolved.preparedStatements,
    notify: options.notify,
    appendBatching: options.appendBatching,
    readBatching: options.readBatching,
    heldBackWaitMs: options.heldBackWaitMs,
  });
  return migrateOrClose(store, options.migrate);
}

/**
 * Creates the event store on an embedded PGlite database: in memory, or durable in `dataDir`.
 * Same SQL and behaviour as on a server, for development, tests and single-process apps.
 *
 * An on-disk database has one owner: its folder is locked before it is opened (or, for a `db` you
 * pass, before the store uses it) until the database is closed.
 * @throws EmbeddedDatabaseLockedError when another live process, or another store or PGlite
 * instance of this process, has the folder open; nothing is opened then.
 */
export async function createPGliteEventStore(
  options: PGliteEventStoreOptions = {},
): Promise<PostgresEventStore> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionsError('PGlite event store options', 'pass an object');
  }
  if (
    options.dataDir !== undefined &&
    (typeof options.dataDir !== 'string' || options.dataDir.trim() === '')
  ) {
    throw new InvalidOptionsError(
      'dataDir',
      'use a folder path, or omit it for an in-memory database',
    );
  }
  const schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
  // A PGlite passed in was opened by its user; the store refuses to write through it unless that
  // instance is the folder's only owner (see docs/event-store.md, "One owner per folder").
  if (options.db !== undefined) ensureDirectoryOwner(options.db);
  const db = options.db ?? (await openPGlite(options.dataDir));
  const executor = new PGliteSqlExecutor(db, options.db === undefined);
  // One in-process connection: nothing to retry, nothing to break, one batch at a time.
  const store = new PostgresEventStore(executor, {
    schema,
    preparedStatements: false,
    appendBatching: { maxInFlight: 1 },
    readBatching: { maxInFlight: 1 },
  });
  return migrateOrClose(store, options.migrate);
}

/** Migrates (unless told not to), which also checks the log's transaction ids; closes the store on failure. */
async function migrateOrClose(
  store: PostgresEventStore,
  shouldMigrate: boolean | undefined,
): Promise<PostgresEventStore> {
  try {
    if (shouldMigrate !== false) await store.migrate();
    return store;
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Opens an embedded database, in memory or in `dataDir` — created with its parents if missing
 * (PGlite itself creates only the last folder, so `./data/app` failed on a fresh checkout). An
 * on-disk folder is locked first and stays locked until the returned instance is closed.
 * @throws EmbeddedDatabaseLockedError when another live process, or another instance of this
 * process, has the folder open; nothing is opened then.
 */
export async function openPGlite(dataDir: string | undefined): Promise<PGlite> {
  const folder = embeddedFolder(dataDir);
  // Locked before PGlite touches the folder: opening alone may replay its WAL.
  const lock = folder === undefined ? undefined : lockEmbeddedDirectory(folder);
  try {
    const db = await (await import('@electric-sql/pglite')).PGlite.create({ dataDir });
    if (lock !== undefined) holdUntilClosed(db, lock);
    return db;
  } catch (error) {
    lock?.release();
    throw error;
  }
}
