import { quoted } from '../schema/schema-name';

/**
 * Version 7 of the schema: `snapshots`, persisted command states (see `PostgresSnapshotStore`).
 * Rows are looked up by `scope_key`, a digest of the command name and boundary computed by the
 * client, so that the index stays small whatever the boundary's size; the name and boundary are
 * stored too and compared on read. Nothing else changes: a rolling upgrade is safe.
 */
export function snapshotSchemaV7(schema: string): string[] {
  const s = quoted(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.snapshots (
       snapshot_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       scope_key text NOT NULL,
       command_name text NOT NULL,
       boundary text[] NOT NULL,
       versions bigint[] NOT NULL,
       state_version integer NOT NULL,
       fingerprint text NOT NULL,
       encoding text NOT NULL,
       state bytea NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       CONSTRAINT snapshots_versions_check CHECK (cardinality(versions) = cardinality(boundary))
     )`,
    `CREATE INDEX IF NOT EXISTS snapshots_scope_idx ON ${s}.snapshots (scope_key, snapshot_id DESC)`,
  ];
}

/** Undoes {@link snapshotSchemaV7}: snapshots are a cache, so dropping them loses no data. */
export function dropSnapshotSchemaV7(schema: string): string[] {
  const s = quoted(schema);
  return [
    `DROP TABLE IF EXISTS ${s}.snapshots`,
    `DELETE FROM ${s}.schema_version WHERE version = 7`,
  ];
}
