import { ISO_FORMAT } from '../schema/append.sql';
import { quoted } from '../schema/schema-name';

/**
 * Streams whose id starts with $1 (after $2 when not NULL), at most $3, in the primary key's
 * order: the index walk stops after $3 matches (`starts_with` itself cannot use the index, so a
 * rare prefix on a huge table scans far; an operator's search, not a hot path).
 */
export function findStreamsSql(schema: string): string {
  return `
SELECT stream_id, version FROM ${quoted(schema)}.streams
 WHERE starts_with(stream_id, $1::text) AND ($2::text IS NULL OR stream_id > $2::text)
 ORDER BY stream_id
 LIMIT $3`;
}

/** The stream of the event with id $1 (a uuid; the unique index on event_id finds it). */
export function streamOfEventSql(schema: string): string {
  return `SELECT stream_id FROM ${quoted(schema)}.events WHERE event_id = $1::uuid`;
}

/** Ids and streams of the events of correlation id $1, at most $2, by position (indexed). */
export function correlatedEventsSql(schema: string): string {
  return `
SELECT event_id::text AS event_id, stream_id FROM ${quoted(schema)}.events
 WHERE metadata ->> 'correlationId' = $1::text
 ORDER BY global_position
 LIMIT $2`;
}

/** The highest global position and its recording time (a backward walk of the primary key). */
export function headSql(schema: string): string {
  return `
SELECT global_position, to_char(recorded_at AT TIME ZONE 'UTC', ${ISO_FORMAT}) AS recorded_at
  FROM ${quoted(schema)}.events ORDER BY global_position DESC LIMIT 1`;
}

/**
 * The oldest open transaction that holds a transaction id, on the whole server (any database):
 * the gap-safe horizon of every reader is the oldest running transaction id, wherever it runs.
 * `privileged` is false when this role cannot see other roles' sessions (their state and times
 * read NULL without `pg_read_all_stats`, which `pg_monitor` includes); superusers have it.
 */
export const OLDEST_WRITE_TRANSACTION_SQL = `
SELECT pg_has_role('pg_read_all_stats', 'USAGE') AS privileged,
       a.pid, a.datname, a.application_name, a.state,
       extract(epoch FROM clock_timestamp() - a.xact_start) AS age_seconds,
       to_char(a.query_start AT TIME ZONE 'UTC', ${ISO_FORMAT}) AS query_start
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL (
    SELECT * FROM pg_stat_activity
     WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
     ORDER BY age(backend_xid) DESC
     LIMIT 1) AS a ON true`;

/** Deletes the dead-letter records of projection $1 for event $2. */
export function removeDeadLetterSql(schema: string): string {
  return `DELETE FROM ${quoted(schema)}.dead_letters WHERE projection = $1 AND event_id = $2 RETURNING 1 AS removed`;
}
