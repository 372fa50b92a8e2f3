import { ALLOW_EVENT_MUTATION_SETTING } from './event-store.schema';
import { appendBatchFunctionSqlV6, appendDcbFunctionSqlV6 } from './dcb.sql';
import { quoted, STREAM_LOCK_NAMESPACE } from './schema-name';

/** The events table's columns in the order versions 1–7 left them, plus `archived`. */
export const EVENT_COLUMNS =
  'global_position, transaction_id, stream_id, stream_version, event_id, type, schema_version, data, metadata, occurred_at, recorded_at, encoding, data_bytes, tags, archived';

/**
 * The partitioned events table `table` (`events`, or `events_conv` while a conversion copies into
 * it), LIST-partitioned on `archived` into `<table>_hot` and `<table>_archived`.
 *
 * PostgreSQL wants the partition key in every unique constraint of a partitioned table, so the
 * constraints are per partition: (global_position, archived), (stream_id, stream_version,
 * archived) and (event_id, archived). What makes them hold across partitions:
 * - positions come from one sequence and an archive keeps them;
 * - a stream lives wholly in one partition: `archive_stream_v8` moves all its events in one
 *   statement under the stream's lock, after marking it archived, and every append refuses to write
 *   to an archived stream under that same lock, so no version can appear in the hot partition for
 *   it again;
 * - an event id is refused in the hot partition by its index, and against the archived partition by
 *   the append functions' check after their insert (see `archivedIdCheck`).
 *
 * `indexes`: with the keys and indexes (false while a conversion copies rows in; they are built
 * after). Plain statements for a table that does not exist yet.
 */
export function partitionedEventsSql(schema: string, table: string, indexes = true): string[] {
  const s = quoted(schema);
  const t = `${s}.${table}`;
  return [
    `CREATE TABLE ${t} (
       global_position bigint NOT NULL,
       transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
       stream_id text NOT NULL,
       stream_version bigint NOT NULL CHECK (stream_version >= 1),
       event_id uuid NOT NULL,
       type text NOT NULL,
       schema_version integer NOT NULL DEFAULT 1,
       data jsonb,
       metadata jsonb NOT NULL,
       occurred_at timestamptz NOT NULL,
       recorded_at timestamptz NOT NULL DEFAULT now(),
       encoding text NOT NULL DEFAULT 'json',
       data_bytes bytea,
       tags text[] NOT NULL DEFAULT '{}',
       archived boolean NOT NULL DEFAULT false,
       CONSTRAINT ${table}_encoding_check CHECK (
         (encoding = 'json') = (data IS NOT NULL) AND (data IS NULL) = (data_bytes IS NOT NULL)
       )
     ) PARTITION BY LIST (archived)`,
    `CREATE TABLE ${t}_hot PARTITION OF ${t} FOR VALUES IN (false)`,
    `CREATE TABLE ${t}_archived PARTITION OF ${t} FOR VALUES IN (true)`,
    ...(indexes ? partitionedIndexesSql(schema, table) : []),
    // Statement triggers are not inherited: each partition refuses changes on its own too.
    ...['', '_hot', '_archived'].map(
      (part) => `CREATE TRIGGER ${table}${part}_immutable
       BEFORE UPDATE OR DELETE OR TRUNCATE ON ${t}${part}
       FOR EACH STATEMENT EXECUTE FUNCTION ${s}.refuse_event_mutation()`,
    ),
  ];
}

/** The keys and indexes of {@link partitionedEventsSql}, named after `table`. */
export function partitionedIndexesSql(schema: string, table: string): string[] {
  const t = `${quoted(schema)}.${table}`;
  return [
    `ALTER TABLE ${t} ADD CONSTRAINT ${table}_pkey PRIMARY KEY (global_position, archived)`,
    `ALTER TABLE ${t} ADD CONSTRAINT ${table}_stream_version_key UNIQUE (stream_id, stream_version, archived)`,
    `ALTER TABLE ${t} ADD CONSTRAINT ${table}_event_id_key UNIQUE (event_id, archived)`,
    `CREATE INDEX ${table}_log_idx ON ${t} (transaction_id, global_position)`,
    `CREATE INDEX ${table}_correlation_id_idx ON ${t} ((metadata ->> 'correlationId'))`,
    `CREATE INDEX ${table}_causation_id_idx ON ${t} ((metadata ->> 'causationId'))`,
    `CREATE INDEX ${table}_type_position_idx ON ${t} (type, global_position)`,
  ];
}

/**
 * Version 8 of the schema: hot and archived events.
 *
 * - `streams.archived_at`: set by `archive_stream_v8`; an archived stream refuses every write.
 * - A new, empty store's events table is replaced by the partitioned one (see
 *   {@link partitionedEventsSql}). A store that holds events keeps its table, which only gains the
 *   `archived` column (a constant default: no rewrite): it works as before, archives by flag, and
 *   is converted by `convertEventsToPartitioned`, explicitly, never at startup.
 * - `append_batch_v8` and `append_dcb_v8`: the version 6 functions plus the refusal of writes to
 *   archived streams, under the stream lock, and the archived event-id check.
 * - `archive_stream_v8(stream_id)`: see {@link archiveStreamFunctionSql}.
 * - A trigger refuses moving an archived stream's version, so the older append functions an
 *   older library calls during a rolling upgrade cannot write to one either.
 */
export function eventStoreSchemaV8(schema: string): string[] {
  const s = quoted(schema);
  return [
    `ALTER TABLE ${s}.streams ADD COLUMN IF NOT EXISTS archived_at timestamptz`,
    `DO $do$ BEGIN
       IF (SELECT c.relkind FROM pg_class AS c WHERE c.oid = '${s}.events'::regclass) = 'r' THEN
         LOCK TABLE ${s}.events IN ACCESS EXCLUSIVE MODE;
         IF NOT EXISTS (SELECT FROM ${s}.events) THEN
           -- The sequence belongs to the column: free it first, or DROP TABLE drops it.
           ALTER SEQUENCE ${s}.events_position_seq OWNED BY NONE;
           DROP TABLE ${s}.events;
           ${partitionedEventsSql(schema, 'events')
             .map((statement) => `EXECUTE $q$${statement}$q$;`)
             .join('\n           ')}
           ALTER SEQUENCE ${s}.events_position_seq OWNED BY ${s}.events.global_position;
         END IF;
       END IF;
     END $do$`,
    // The kept (unpartitioned) table of a store with events.
    `ALTER TABLE ${s}.events ADD COLUMN IF NOT EXISTS archived boolean NOT NULL DEFAULT false`,
    `CREATE OR REPLACE FUNCTION ${s}.refuse_archived_stream_write() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       RAISE EXCEPTION 'EventCore stream "%" is archived: it takes no more events', OLD.stream_id
         USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'eventcore.stream_archived';
     END
     $fn$`,
    `CREATE OR REPLACE TRIGGER streams_archived
       BEFORE UPDATE ON ${s}.streams FOR EACH ROW
       WHEN (OLD.archived_at IS NOT NULL AND NEW.version IS DISTINCT FROM OLD.version)
       EXECUTE FUNCTION ${s}.refuse_archived_stream_write()`,
    appendBatchFunctionSqlV6(schema, true),
    appendDcbFunctionSqlV6(schema, true),
    archiveStreamFunctionSql(schema),
  ];
}

/**
 * Undoes {@link eventStoreSchemaV8} while nothing is archived (archived events would become hot
 * again). A partitioned table stays partitioned: versions 1–7 read and write it unchanged.
 */
export function dropEventStoreSchemaV8(schema: string): string[] {
  const s = quoted(schema);
  return [
    `DO $do$ BEGIN
       IF EXISTS (SELECT FROM ${s}.streams WHERE archived_at IS NOT NULL) THEN
         RAISE EXCEPTION 'EventCore schema ${schema} has archived streams: version 8 cannot be undone without unarchiving them'
           USING ERRCODE = 'object_in_use';
       END IF;
     END $do$`,
    `DROP FUNCTION IF EXISTS ${s}.archive_stream_v8(text)`,
    `DROP FUNCTION IF EXISTS ${s}.append_dcb_v8(text[], text[], bigint[], integer[], integer[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], timestamptz[], text[], text[], text[], integer[], jsonb, bigint, boolean)`,
    `DROP FUNCTION IF EXISTS ${s}.append_batch_v8(integer[], text[], text[], bigint[], integer[], integer[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], timestamptz[], text[], text[], text[], integer[], boolean)`,
    `DROP TRIGGER IF EXISTS streams_archived ON ${s}.streams`,
    `DROP FUNCTION IF EXISTS ${s}.refuse_archived_stream_write()`,
    `ALTER TABLE ${s}.streams DROP COLUMN IF EXISTS archived_at`,
    `DELETE FROM ${s}.schema_version WHERE version = 8`,
  ];
}

/**
 * `archive_stream_v8(stream_id)`: moves a stream's events to the archived partition (on a table not
 * yet converted, sets their flag), in one transaction under the stream's lock, so no append
 * interleaves: every later append sees the stream archived and is refused.
 *
 * Refused (`r_status` `behind`, nothing changed) while a projection whose checkpoint is kept in
 * this schema has not passed the stream's last event (`r_behind` names them): a projection that
 * reads the hot events only would otherwise never see the rest. `missing`: no such stream.
 * `archived`: done, `r_moved` events moved (0 when it was archived already: idempotent).
 */
export function archiveStreamFunctionSql(schema: string): string {
  const s = quoted(schema);
  return `
CREATE OR REPLACE FUNCTION ${s}.archive_stream_v8(
  p_stream_id text, OUT r_status text, OUT r_moved bigint, OUT r_behind text[]
) LANGUAGE plpgsql AS $fn$
DECLARE
  v_archived_at timestamptz;
  v_tx xid8;
  v_position bigint;
  v_setting text;
BEGIN
  PERFORM pg_advisory_xact_lock(${STREAM_LOCK_NAMESPACE}, hashtext('${schema}:' || p_stream_id));
  r_moved := 0;
  SELECT st.archived_at INTO v_archived_at FROM ${s}.streams AS st WHERE st.stream_id = p_stream_id;
  IF NOT FOUND THEN
    r_status := 'missing';
    RETURN;
  END IF;
  IF v_archived_at IS NOT NULL THEN
    r_status := 'archived';
    RETURN;
  END IF;
  SELECT e.transaction_id, e.global_position INTO v_tx, v_position
    FROM ${s}.events AS e WHERE e.stream_id = p_stream_id ORDER BY e.stream_version DESC LIMIT 1;
  SELECT array_agg(c.projection ORDER BY c.projection) INTO r_behind
    FROM ${s}.checkpoints AS c
   WHERE c.position IS NULL
      OR (split_part(c.position, ':', 1)::xid8, split_part(c.position, ':', 2)::bigint) < (v_tx, v_position);
  IF r_behind IS NOT NULL THEN
    r_status := 'behind';
    RETURN;
  END IF;
  UPDATE ${s}.streams SET archived_at = now() WHERE stream_id = p_stream_id;
  v_setting := current_setting('${ALLOW_EVENT_MUTATION_SETTING}', true);
  PERFORM set_config('${ALLOW_EVENT_MUTATION_SETTING}', 'on', true);
  UPDATE ${s}.events SET archived = true WHERE stream_id = p_stream_id AND NOT archived;
  GET DIAGNOSTICS r_moved = ROW_COUNT;
  PERFORM set_config('${ALLOW_EVENT_MUTATION_SETTING}', coalesce(v_setting, ''), true);
  r_status := 'archived';
END
$fn$`;
}

/** The call of {@link archiveStreamFunctionSql}. */
export function archiveStreamCallSql(schema: string): string {
  return `SELECT * FROM ${quoted(schema)}.archive_stream_v8($1::text)`;
}
