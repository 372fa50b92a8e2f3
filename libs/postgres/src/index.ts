/**
 * @eventcore/postgres — the PostgreSQL event store, on a server (`pg` pool) or embedded (PGlite),
 * with its schema migrations.
 */
export {
  PostgresEventStore,
  type PostgresEventStoreSettings,
  type PostgresStoreHealth,
} from './postgres.event-store';
export { createPostgresEventStore, createPGliteEventStore } from './postgres.factory';
export type {
  PostgresEventStoreOptions,
  PGliteEventStoreOptions,
  ConnectionRetryOptions,
  CircuitBreakerOptions,
} from './postgres.options';
export type {
  SqlExecutor,
  SqlQueryable,
  SqlRow,
  QueryOptions,
  PoolStats,
} from './executor/sql-executor';
export { SqlConnectionError } from './executor/sql-executor';
export { PgPoolSqlExecutor } from './executor/pg-pool.sql-executor';
export { PGliteSqlExecutor } from './executor/pglite.sql-executor';
export { migrate, type MigrateOptions } from './schema/migrate';
export {
  SCHEMA_MIGRATIONS,
  CURRENT_SCHEMA_VERSION,
  type SchemaMigration,
  recordVersionSql,
} from './schema/migrations';
export { ALLOW_EVENT_MUTATION_SETTING } from './schema/event-store.schema';
export { DEFAULT_SCHEMA, notificationChannel } from './schema/schema-name';
