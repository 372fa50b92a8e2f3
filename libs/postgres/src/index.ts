/**
 * @eventcore/postgres — the PostgreSQL event store, on a server (`pg` pool) or embedded (PGlite),
 * with its schema migrations.
 */
export {
  PostgresEventStore,
  type PostgresEventStoreConstructorOptions,
  type PostgresStoreHealth,
} from './postgres.event-store';
export type {
  CallerTransaction,
  PgTransactionClient,
  TypeOrmEntityManager,
  TypeOrmQueryRunner,
} from './caller-transaction';
export { createPostgresEventStore, createPGliteEventStore, openPGlite } from './postgres.factory';
export type { AppendBatchingOptions } from './append-batcher';
export type { ReadBatchingOptions } from './read-batcher';
export type {
  PostgresEventStoreOptions,
  PGliteEventStoreOptions,
  CircuitBreakerOptions,
  PoolerMode,
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
  convertEventsToPartitioned,
  type ConvertEventsOptions,
  type ConversionProgress,
  type ConversionResult,
} from './schema/partition-conversion';
export { type RetentionPolicy, type RetentionResult } from './retention';
export {
  SCHEMA_MIGRATIONS,
  CURRENT_SCHEMA_VERSION,
  type SchemaMigration,
  recordVersionSql,
} from './schema/migrations';
export { ALLOW_EVENT_MUTATION_SETTING } from './schema/event-store.schema';
export { DEFAULT_SCHEMA, notificationChannel } from './schema/schema-name';
export {
  PostgresCheckpointStore,
  createPostgresCheckpointStore,
  type PostgresCheckpointStoreOptions,
  type PostgresProjectionTx,
} from './projection/postgres.checkpoint-store';
export {
  PostgresProjectionLock,
  PROJECTION_LOCK_NAMESPACE,
  type PostgresProjectionLockOptions,
} from './projection/postgres.projection-lock';
export { PostgresLeaseLock, type PostgresLeaseLockOptions } from './projection/postgres.lease-lock';
export {
  PostgresAppendNotifier,
  createPostgresAppendNotifier,
  createPGliteAppendNotifier,
  pgListenSource,
  pgliteListenSource,
  type AppendNotifications,
  type ListenSource,
  type PostgresAppendNotifierOptions,
} from './projection/postgres.append-notifier';
export type { DedicatedConnection } from './projection/dedicated-connection';
export {
  createPostgresStorage,
  type PostgresStorage,
  type PostgresStorageOptions,
} from './postgres.storage';
export {
  PostgresSnapshotStore,
  createPostgresSnapshotStore,
  type PostgresSnapshotStoreOptions,
} from './snapshot/postgres.snapshot-store';
export {
  PostgresStoreInspection,
  type PostgresStoreInspectionOptions,
} from './inspection/postgres.inspection';
export type { LogHoldBack } from './inspection/log-hold-back';
export {
  PostgresSchemaTenants,
  createPostgresSchemaTenants,
  MAX_TENANT_SCHEMA_LENGTH,
  type PostgresSchemaTenantsOptions,
  type PostgresTenantParts,
} from './tenancy/postgres.schema-tenants';
export {
  PostgresDatabaseTenants,
  createPostgresDatabaseTenants,
  type PostgresDatabaseTenantsOptions,
  type TenantDatabaseMove,
  type PostgresTenantMoveRequest,
  type PostgresTenantMoveResult,
} from './tenancy/postgres.database-tenants';
