import { quoted } from '../schema/schema-name';

/**
 * Version 2 of the schema: what projections keep in the database — checkpoints, dead letters and
 * lease rows (for {@link PostgresLeaseLock}). Idempotent like version 1, so `migrate()` and the
 * TypeORM CLI may both run it.
 */
export function projectionSchemaV2(schema: string): string[] {
  const s = quoted(schema);
  return [
    // position is an opaque `xid:position` token; NULL after a rebuild's reset ("from the start").
    `CREATE TABLE IF NOT EXISTS ${s}.checkpoints (
       projection text PRIMARY KEY,
       position text,
       updated_at timestamptz NOT NULL DEFAULT now()
     )`,
    // The error message only: event data may be personal and is in the log anyway.
    `CREATE TABLE IF NOT EXISTS ${s}.dead_letters (
       id bigserial PRIMARY KEY,
       projection text NOT NULL,
       event_id text NOT NULL,
       stream_id text NOT NULL,
       event_type text NOT NULL,
       global_position bigint NOT NULL,
       error text NOT NULL,
       recorded_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE INDEX IF NOT EXISTS dead_letters_projection_idx ON ${s}.dead_letters (projection, id)`,
    `CREATE TABLE IF NOT EXISTS ${s}.projection_leases (
       projection text PRIMARY KEY,
       owner text NOT NULL,
       expires_at timestamptz NOT NULL
     )`,
  ];
}

/** Undoes {@link projectionSchemaV2}: every checkpoint, dead letter and lease is dropped. */
export function dropProjectionSchemaV2(schema: string): string[] {
  const s = quoted(schema);
  return [
    `DROP TABLE IF EXISTS ${s}.projection_leases`,
    `DROP TABLE IF EXISTS ${s}.dead_letters`,
    `DROP TABLE IF EXISTS ${s}.checkpoints`,
    `DELETE FROM ${s}.schema_version WHERE version = 2`,
  ];
}
