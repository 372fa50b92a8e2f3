import {
  appendBatchFunctionSqlV5,
  appendFunctionSql,
  appendFunctionSqlV3,
  appendFunctionSqlV4,
} from './append.sql';
import {
  appendBatchFunctionSqlV6,
  appendDcbFunctionSqlV6,
  readEventsFunctionSqlV6,
} from './dcb.sql';
import { quoted } from './schema-name';

/**
 * Name of the setting that lets an administrative transaction UPDATE, DELETE or TRUNCATE events:
 * `BEGIN; SET LOCAL eventcore.allow_event_mutation = 'on'; ...; COMMIT;`. Anything else is refused
 * by a trigger. Use it only for erasure requests or repairs, and never while subscribers read.
 */
export const ALLOW_EVENT_MUTATION_SETTING = 'eventcore.allow_event_mutation';

/**
 * Version 1 of the schema: the events and streams tables, the immutability trigger and the append
 * function. Every statement is idempotent (IF NOT EXISTS, OR REPLACE) so that running it twice —
 * from `migrate()` and from the TypeORM CLI — is harmless.
 */
export function eventStoreSchemaV1(schema: string): string[] {
  const s = quoted(schema);
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}.schema_version (
       version integer PRIMARY KEY,
       name text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
    // CACHE 1: a per-session cache would hand out positions out of order across connections.
    `CREATE SEQUENCE IF NOT EXISTS ${s}.events_position_seq AS bigint CACHE 1`,
    // One row per stream that has events: its version (the append function reads it under a lock).
    `CREATE TABLE IF NOT EXISTS ${s}.streams (
       stream_id text PRIMARY KEY,
       version bigint NOT NULL DEFAULT 0 CHECK (version >= 0)
     )`,
    `CREATE TABLE IF NOT EXISTS ${s}.events (
       global_position bigint PRIMARY KEY,
       transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
       stream_id text NOT NULL,
       stream_version bigint NOT NULL CHECK (stream_version >= 1),
       event_id uuid NOT NULL,
       type text NOT NULL,
       schema_version integer NOT NULL DEFAULT 1,
       data jsonb NOT NULL,
       metadata jsonb NOT NULL,
       occurred_at timestamptz NOT NULL,
       recorded_at timestamptz NOT NULL DEFAULT now(),
       CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
       CONSTRAINT events_event_id_key UNIQUE (event_id)
     )`,
    `ALTER SEQUENCE ${s}.events_position_seq OWNED BY ${s}.events.global_position`,
    // The global log's order: see read.sql.ts.
    `CREATE INDEX IF NOT EXISTS events_log_idx ON ${s}.events (transaction_id, global_position)`,
    `CREATE INDEX IF NOT EXISTS events_correlation_id_idx ON ${s}.events ((metadata ->> 'correlationId'))`,
    `CREATE INDEX IF NOT EXISTS events_causation_id_idx ON ${s}.events ((metadata ->> 'causationId'))`,
    `CREATE OR REPLACE FUNCTION ${s}.refuse_event_mutation() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       IF coalesce(current_setting('${ALLOW_EVENT_MUTATION_SETTING}', true), '') = 'on' THEN
         RETURN NULL;
       END IF;
       RAISE EXCEPTION 'EventCore events are immutable: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
         USING ERRCODE = 'insufficient_privilege',
               HINT = 'An administrative change must run in a transaction that first does SET LOCAL ${ALLOW_EVENT_MUTATION_SETTING} = ''on''.';
     END
     $fn$`,
    `CREATE OR REPLACE TRIGGER events_immutable
       BEFORE UPDATE OR DELETE OR TRUNCATE ON ${s}.events
       FOR EACH STATEMENT EXECUTE FUNCTION ${s}.refuse_event_mutation()`,
    appendFunctionSql(schema),
  ];
}

/** Undoes {@link eventStoreSchemaV1}, dropping every event. For the TypeORM CLI's `migration:revert`. */
export function dropEventStoreSchemaV1(schema: string): string[] {
  const s = quoted(schema);
  return [
    `DROP FUNCTION IF EXISTS ${s}.append_events(text[], text[], bigint[], integer[], jsonb)`,
    `DROP TABLE IF EXISTS ${s}.events`,
    `DROP FUNCTION IF EXISTS ${s}.refuse_event_mutation()`,
    `DROP TABLE IF EXISTS ${s}.streams`,
    `DELETE FROM ${s}.schema_version WHERE version = 1`,
  ];
}

/**
 * Version 3 of the schema: the faster append function `append_events_v3` (see
 * `appendFunctionSqlV3`). The version 1 function stays, so an older library still running against
 * the database during a rolling upgrade keeps working. Idempotent.
 */
export function eventStoreSchemaV3(schema: string): string[] {
  return [appendFunctionSqlV3(schema)];
}

/** Undoes {@link eventStoreSchemaV3}. */
export function dropEventStoreSchemaV3(schema: string): string[] {
  const s = quoted(schema);
  return [
    `DROP FUNCTION IF EXISTS ${s}.append_events_v3(text[], text[], bigint[], integer[], integer[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], timestamptz[], boolean)`,
    `DELETE FROM ${s}.schema_version WHERE version = 3`,
  ];
}

/**
 * Version 4 of the schema: binary encodings. `encoding` names how an event's data is stored:
 * `json` (the default, so every existing row and every row of `append_events_v3` is JSON) in `data`
 * as jsonb, queryable; anything else (e.g. `msgpack`) as bytes in `data_bytes`, with `data` NULL.
 * Adding columns with a constant default and dropping NOT NULL rewrite nothing. The check is added
 * NOT VALID: it holds for every new row at once, and every existing row satisfies it by construction
 * (it predates the columns), so the migration does not scan a populated events table under an
 * exclusive lock (an empty one is validated at once); `ALTER TABLE <schema>.events VALIDATE
 * CONSTRAINT events_encoding_check` may be run later, online. Then `append_events_v4`, which writes them; version 3 stays for a rolling upgrade.
 * Idempotent.
 */
export function eventStoreSchemaV4(schema: string): string[] {
  const s = quoted(schema);
  return [
    `ALTER TABLE ${s}.events
       ADD COLUMN IF NOT EXISTS encoding text NOT NULL DEFAULT 'json',
       ADD COLUMN IF NOT EXISTS data_bytes bytea,
       ALTER COLUMN data DROP NOT NULL,
       DROP CONSTRAINT IF EXISTS events_encoding_check,
       ADD CONSTRAINT events_encoding_check CHECK (
         (encoding = 'json') = (data IS NOT NULL) AND (data IS NULL) = (data_bytes IS NOT NULL)
       ) NOT VALID`,
    // A new, empty table is validated at once: nothing to scan.
    `DO $do$ BEGIN
       IF NOT EXISTS (SELECT FROM ${s}.events) THEN
         ALTER TABLE ${s}.events VALIDATE CONSTRAINT events_encoding_check;
       END IF;
     END $do$`,
    appendFunctionSqlV4(schema),
  ];
}

/**
 * Undoes {@link eventStoreSchemaV4}. Refused (by the restored NOT NULL) while binary events exist:
 * they have no JSON form to fall back to.
 */
export function dropEventStoreSchemaV4(schema: string): string[] {
  const s = quoted(schema);
  return [
    `DROP FUNCTION IF EXISTS ${s}.append_events_v4(text[], text[], bigint[], integer[], integer[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], timestamptz[], text[], text[], boolean)`,
    `ALTER TABLE ${s}.events
       DROP CONSTRAINT IF EXISTS events_encoding_check,
       ALTER COLUMN data SET NOT NULL,
       DROP COLUMN IF EXISTS data_bytes,
       DROP COLUMN IF EXISTS encoding`,
    `DELETE FROM ${s}.schema_version WHERE version = 4`,
  ];
}

/**
 * Version 5 of the schema: `append_batch_v5`, several independent appends in one call (see
 * `appendBatchFunctionSqlV5`). Tables are unchanged; version 4 stays for a rolling upgrade
 * (both take the same locks, so old and new library instances can write side by side).
 */
export function eventStoreSchemaV5(schema: string): string[] {
  return [appendBatchFunctionSqlV5(schema)];
}

/** Undoes {@link eventStoreSchemaV5}. */
export function dropEventStoreSchemaV5(schema: string): string[] {
  const s = quoted(schema);
  return [
    `DROP FUNCTION IF EXISTS ${s}.append_batch_v5(integer[], text[], text[], bigint[], integer[], integer[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], timestamptz[], text[], text[], boolean)`,
    `DELETE FROM ${s}.schema_version WHERE version = 5`,
  ];
}

/**
 * Version 6 of the schema: DCB tags (dcb.events) and the functions that write and guard them.
 *
 * - `events.tags`: each event's tags, in the order given. A column with a constant default is added
 *   without rewriting the table (PostgreSQL 11 and later), so every existing event has `{}`.
 * - `event_tags (tag, global_position, type)`: one row per tag of an event, primary key
 *   `(tag, global_position)` with the type included. "Events tagged t after position p, in
 *   position order" — what a condition checks and a tag query reads, with or without types — is one
 *   range of that btree, whatever the size of the log and however many tags an event has. (A GIN
 *   index on `events.tags` finds the events of a tag, but neither in position order nor from a
 *   position: every read and check would fetch and sort all events of the tag.)
 * - `events_type_position_idx (type, global_position)`: the same range for items of types only.
 * - `append_batch_v6` (stream appends: tags, shared DCB locks), `append_dcb_v6` (conditions and
 *   stream-less events) and `read_events_v6` (the DCB read); see `dcb.sql.ts`.
 *
 * The two indexes are built in the migration's transaction, which blocks appends while they build
 * on a populated store (seconds per million events); the table is never rewritten. `event_tags`
 * refuses UPDATE, DELETE and TRUNCATE like `events`. Versions 3–5 of the functions stay for a
 * rolling upgrade (they write `tags` = `{}` through the default). Idempotent.
 */
export function eventStoreSchemaV6(schema: string): string[] {
  const s = quoted(schema);
  return [
    `ALTER TABLE ${s}.events ADD COLUMN IF NOT EXISTS tags text[] NOT NULL DEFAULT '{}'`,
    `CREATE TABLE IF NOT EXISTS ${s}.event_tags (
       tag text NOT NULL,
       global_position bigint NOT NULL,
       type text NOT NULL,
       CONSTRAINT event_tags_pkey PRIMARY KEY (tag, global_position) INCLUDE (type)
     )`,
    `CREATE INDEX IF NOT EXISTS events_type_position_idx ON ${s}.events (type, global_position)`,
    `CREATE OR REPLACE TRIGGER event_tags_immutable
       BEFORE UPDATE OR DELETE OR TRUNCATE ON ${s}.event_tags
       FOR EACH STATEMENT EXECUTE FUNCTION ${s}.refuse_event_mutation()`,
    appendBatchFunctionSqlV6(schema),
    appendDcbFunctionSqlV6(schema),
    readEventsFunctionSqlV6(schema),
  ];
}

/**
 * Undoes {@link eventStoreSchemaV6}. Refused while any event has a tag: the tags have nowhere to go
 * in version 5. (Stream-less events stay, as ordinary events of their `$event-` streams.)
 */
export function dropEventStoreSchemaV6(schema: string): string[] {
  const s = quoted(schema);
  return [
    `DO $do$ BEGIN
       IF to_regclass('${s}.event_tags') IS NOT NULL AND EXISTS (SELECT FROM ${s}.event_tags) THEN
         RAISE EXCEPTION 'EventCore schema ${schema} holds tagged events: version 6 cannot be undone without losing their tags'
           USING ERRCODE = 'object_in_use';
       END IF;
     END $do$`,
    `DROP FUNCTION IF EXISTS ${s}.read_events_v6(jsonb, bigint, bigint, integer, boolean)`,
    `DROP FUNCTION IF EXISTS ${s}.append_dcb_v6(text[], text[], bigint[], integer[], integer[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], timestamptz[], text[], text[], text[], integer[], jsonb, bigint, boolean)`,
    `DROP FUNCTION IF EXISTS ${s}.append_batch_v6(integer[], text[], text[], bigint[], integer[], integer[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], timestamptz[], text[], text[], text[], integer[], boolean)`,
    `DROP TABLE IF EXISTS ${s}.event_tags`,
    `DROP INDEX IF EXISTS ${s}.events_type_position_idx`,
    `ALTER TABLE ${s}.events DROP COLUMN IF EXISTS tags`,
    `DELETE FROM ${s}.schema_version WHERE version = 6`,
  ];
}
