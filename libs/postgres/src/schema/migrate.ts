import type { SqlExecutor } from '../executor/sql-executor';
import { CURRENT_SCHEMA_VERSION, recordVersionSql, SCHEMA_MIGRATIONS } from './migrations';
import { checkSchemaName, DEFAULT_SCHEMA, MIGRATION_LOCK_NAMESPACE, quoted } from './schema-name';

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** @default 'eventcore' */
  readonly schema?: string;
}

/**
 * Brings the event store's schema to the current version, in one transaction. Safe to call on every
 * start and from several processes at once: an advisory lock serialises migrators, applied versions
 * (recorded in `<schema>.schema_version`, also by the TypeORM CLI) are skipped, and every statement
 * is idempotent anyway. Returns the schema version.
 */
export async function migrate(
  executor: SqlExecutor,
  options: MigrateOptions = {},
): Promise<number> {
  const schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
  await executor.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
      MIGRATION_LOCK_NAMESPACE,
      schema,
    ]);
    const exists = await tx.query<{ found: boolean }>(
      `SELECT to_regclass($1) IS NOT NULL AS found`,
      [`${quoted(schema)}.schema_version`],
    );
    const applied = new Set<number>();
    if (exists[0]?.found === true) {
      const rows = await tx.query<{ version: number }>(
        `SELECT version FROM ${quoted(schema)}.schema_version`,
      );
      for (const row of rows) applied.add(Number(row.version));
    }
    for (const migration of SCHEMA_MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.up(schema)) await tx.query(statement);
      await tx.query(recordVersionSql(schema), [migration.version, migration.name]);
    }
  });
  return CURRENT_SCHEMA_VERSION;
}
