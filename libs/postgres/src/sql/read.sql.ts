import { ISO_FORMAT } from '../schema/append.sql';
import { quoted } from '../schema/schema-name';

/**
 * The data (`d`, jsonb), encoding (`en`) and tags (`tg`, NULL when none) of an event: for JSON
 * events the jsonb data and NULL; for binary ones the base64 of `data_bytes` as a jsonb string (so
 * `d` keeps one type and the client parses a short string) and the encoding name. `encode` breaks base64 lines every 76
 * characters; `translate` removes the newlines. `coalesce` evaluates the encoding only for NULL data.
 */
export const DATA_COLUMNS = `coalesce(e.data, to_jsonb(translate(encode(e.data_bytes, 'base64'), E'\\n', ''))) AS d,
       nullif(e.encoding, 'json') AS en, nullif(e.tags, '{}') AS tg`;

/**
 * Events of the requested streams, merged by global position, with the log's head on the first row
 * (when nothing matched there is no row: the caller asks {@link headSql}). One statement, so one
 * snapshot: the events and the head are consistent. Versions are derived from the events read.
 *
 * Columns that usually repeat from one event to the next — the stream, type and schema version,
 * the metadata (shared by the events of one command), the occurred-at time (one per command) and
 * the recorded-at time (one per transaction) — are sent only when they differ from the previous row's, and NULL otherwise (see
 * `RowDecoder`): converting them to text on the server and parsing them in the client was most of
 * the cost of reading a long stream. Comparing is cheap; equal values give equal text.
 *
 * Several streams are read with one index probe per stream (`LATERAL`, kept from being flattened
 * into a join by `OFFSET 0`): with `stream_id = ANY` or a plain join, the
 * cached generic plan of a prepared statement chose a sequential scan while the table was small and
 * kept it as the table grew, until the next ANALYZE (measured: transfers slowed from 1,441 to 472
 * per second within a minute of a fresh database, back to 1,250 after ANALYZE).
 */
export function readStreamsSql(schema: string, single = false): string {
  const s = quoted(schema);
  // One stream: its index (stream_id, stream_version) already yields position order (versions
  // and positions of a stream grow together), so no sort. Several: merge by position.
  const order = single ? 'e.stream_version' : 'e.global_position';
  return `
WITH h AS MATERIALIZED (
  SELECT transaction_id::text AS x, global_position AS p FROM ${s}.events
   ORDER BY transaction_id DESC, global_position DESC LIMIT 1
)
SELECT CASE WHEN lag(true) OVER w IS NULL THEN (SELECT x FROM h) END AS hx,
       CASE WHEN lag(true) OVER w IS NULL THEN (SELECT p FROM h) END AS hp,
       e.global_position AS p, e.event_id::text AS i,
       CASE WHEN e.stream_id = lag(e.stream_id) OVER w THEN NULL ELSE e.stream_id END AS s,
       e.stream_version AS v,
       CASE WHEN e.type = lag(e.type) OVER w THEN NULL ELSE e.type END AS t,
       CASE WHEN e.schema_version = lag(e.schema_version) OVER w THEN NULL ELSE e.schema_version END AS sv,
       ${DATA_COLUMNS},
       CASE WHEN e.metadata = lag(e.metadata) OVER w THEN NULL ELSE e.metadata END AS m,
       CASE WHEN e.occurred_at = lag(e.occurred_at) OVER w THEN NULL
            ELSE to_char(e.occurred_at AT TIME ZONE 'UTC', ${ISO_FORMAT}) END AS o,
       CASE WHEN e.recorded_at = lag(e.recorded_at) OVER w THEN NULL
            ELSE to_char(e.recorded_at AT TIME ZONE 'UTC', ${ISO_FORMAT}) END AS r
  FROM ${
    single
      ? `${s}.events AS e WHERE e.stream_id = $1::text`
      : `unnest($1::text[]) AS u(id) CROSS JOIN LATERAL
       (SELECT * FROM ${s}.events AS x WHERE x.stream_id = u.id OFFSET 0) AS e`
  }
WINDOW w AS (ORDER BY ${order})
 ORDER BY ${order}`;
}

/** The log's head alone (when `readStreamsSql` found no event). */
export function headSql(schema: string): string {
  return `SELECT transaction_id::text AS hx, global_position AS hp FROM ${quoted(schema)}.events
 ORDER BY transaction_id DESC, global_position DESC LIMIT 1`;
}

/**
 * The event columns of a page of the log (over `e`, window `w` in log order): the last row
 * carries its transaction id (the cursor), and stream, type, schema version, metadata and times
 * are NULL when equal to the previous row's (see `RowDecoder`).
 */
const LOG_PAGE_COLUMNS = `e.global_position AS p,
       CASE WHEN lead(true) OVER w IS NULL THEN e.transaction_id::text END AS x,
       e.event_id::text AS i,
       CASE WHEN e.stream_id = lag(e.stream_id) OVER w THEN NULL ELSE e.stream_id END AS s,
       e.stream_version AS v,
       CASE WHEN e.type = lag(e.type) OVER w THEN NULL ELSE e.type END AS t,
       CASE WHEN e.schema_version = lag(e.schema_version) OVER w THEN NULL ELSE e.schema_version END AS sv,
       ${DATA_COLUMNS},
       CASE WHEN e.metadata = lag(e.metadata) OVER w THEN NULL ELSE e.metadata END AS m,
       CASE WHEN e.occurred_at = lag(e.occurred_at) OVER w THEN NULL
            ELSE to_char(e.occurred_at AT TIME ZONE 'UTC', ${ISO_FORMAT}) END AS o,
       CASE WHEN e.recorded_at = lag(e.recorded_at) OVER w THEN NULL
            ELSE to_char(e.recorded_at AT TIME ZONE 'UTC', ${ISO_FORMAT}) END AS r`;

/**
 * The cursor of a page, `($1, $2)`, as sub-selects: a custom plan must not see its values. With
 * them, the planner estimates the rows after the cursor from the statistics of `transaction_id`,
 * which say "none" whenever the cursor sits in a transaction that wrote many events (a bulk
 * append, an import); on the partitioned table (schema version 8) it then appends both
 * partitions' rows after the cursor and sorts them for the page instead of merging the two
 * index scans in order — measured: 110 ms instead of 3 ms per page of 1,000 at 200,000 events. The
 * unpartitioned table's one index scan is ordered either way.
 */
const CURSOR = '((SELECT $1::xid8), (SELECT $2::bigint))';

/**
 * One page of the global log; metadata and times repeat as NULL like in {@link readStreamsSql}.
 * Why it never skips an event:
 *
 * Positions come from a sequence, so a transaction can take position 10, commit after the one that
 * took 11, and a reader that saw 11 and moved its cursor past it would never see 10. The log is
 * therefore ordered by (transaction id, position), and a page only includes events of transactions
 * older than the snapshot's xmin — every transaction that could still commit an event with a lower
 * (transaction id, position) has finished, so nothing can appear behind a cursor later.
 * The price: one long-open write transaction anywhere on the server holds pages back (health
 * reports its age).
 *
 * With a filter, at most `$5` rows are scanned per page so a rare event type never makes one call
 * scan the whole log; the page then ends early and `next` points past the scanned rows. The scan
 * also stops at the first match after the page's `$6` (PostgreSQL ends a running count there), so
 * a filter that most events match reads a page's worth, not the whole budget; that one row more
 * keeps `last_scanned` past the page when the log goes on, as a full scan would.
 * Parameters: $1 xid8, $2 position (exclusive start), $3 stream prefixes or null, $4 types or null,
 * $5 scan budget, $6 limit, $7 include archived events (false: skip them, see `StreamArchiving`). The first row carries the counts (always one row), the last the
 * transaction id (for the cursor); stream, type and schema version are NULL when as the previous
 * row's (see `RowDecoder`).
 */
export function readAllSql(schema: string): string {
  const s = quoted(schema);
  return `
WITH bound AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
scanned AS MATERIALIZED (
  SELECT transaction_id, global_position, hit FROM (
    SELECT e.*, count(*) FILTER (WHERE e.hit) OVER (ORDER BY e.transaction_id, e.global_position
                                                   ROWS UNBOUNDED PRECEDING) AS hits
      FROM (SELECT e.transaction_id, e.global_position,
                   ($3::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($3::text[]) AS f(prefix)
                                                   WHERE starts_with(e.stream_id, f.prefix)))
                   AND ($4::text[] IS NULL OR e.type = ANY ($4::text[]))
                   AND ($7::boolean OR NOT e.archived) AS hit
              FROM ${s}.events AS e
             WHERE (e.transaction_id, e.global_position) > ${CURSOR}
               AND e.transaction_id < (SELECT xmin FROM bound)
             ORDER BY e.transaction_id, e.global_position
             LIMIT $5) AS e
  ) AS e
   WHERE hits <= $6 + 1
),
hits AS (
  SELECT transaction_id, global_position FROM scanned WHERE hit
   ORDER BY transaction_id, global_position LIMIT $6
),
summary AS (
  SELECT count(*) AS scanned,
         (SELECT transaction_id::text || ':' || global_position::text FROM scanned
           ORDER BY transaction_id DESC, global_position DESC LIMIT 1) AS last_scanned
    FROM scanned
)
SELECT CASE WHEN lag(true) OVER w IS NULL THEN summary.scanned END AS scanned,
       CASE WHEN lag(true) OVER w IS NULL THEN summary.last_scanned END AS last_scanned,
       ${LOG_PAGE_COLUMNS}
  FROM summary
  LEFT JOIN (hits JOIN ${s}.events AS e ON e.global_position = hits.global_position) ON true
WINDOW w AS (ORDER BY e.transaction_id, e.global_position)
 ORDER BY e.transaction_id, e.global_position`;
}

/**
 * {@link readAllSql} for a reader without a filter: every row scanned is a hit, so the page is one
 * index scan in log order, without the scan budget's materialized list, its sorts and a second
 * index probe per event. Same parameters ($3 and $4 must be NULL and $7 true, checked once per
 * call: otherwise no row; $5 is not used) and the same columns but the counts: the rows are the scanned ones, the
 * last carries its transaction id.
 */
export function readAllUnfilteredSql(schema: string): string {
  const s = quoted(schema);
  return `
SELECT ${LOG_PAGE_COLUMNS}
  FROM (SELECT * FROM ${s}.events AS e
         WHERE (e.transaction_id, e.global_position) > ${CURSOR}
           AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
           AND $3::text[] IS NULL AND $4::text[] IS NULL AND $5::int IS NOT NULL AND $7::boolean
         ORDER BY e.transaction_id, e.global_position
         LIMIT $6) AS e
WINDOW w AS (ORDER BY e.transaction_id, e.global_position)
 ORDER BY e.transaction_id, e.global_position`;
}

/**
 * How many events a reader at ($1 xid8, $2 position) has yet to receive: the same bound and filters
 * ($3 prefixes, $4 types, $5 include archived) as {@link readAllSql}. Cost grows with the lag: the worker counts at most
 * once a second.
 */
export function countAfterSql(schema: string): string {
  return `
SELECT count(*) AS n FROM ${quoted(schema)}.events AS e
 WHERE (e.transaction_id, e.global_position) > ($1::xid8, $2::bigint)
   AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
   AND ($3::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($3::text[]) AS f(prefix)
                                       WHERE starts_with(e.stream_id, f.prefix)))
   AND ($4::text[] IS NULL OR e.type = ANY ($4::text[]))
   AND ($5::boolean OR NOT e.archived)`;
}

/**
 * Health figures that need the database. `privileged`: whether this role sees other roles'
 * sessions' transaction starts (without `pg_read_all_stats` they read NULL, so the ages say nothing).
 */
export function healthSql(schema: string): string {
  return `
SELECT (SELECT max(version) FROM ${quoted(schema)}.schema_version) AS schema_version,
       pg_has_role('pg_read_all_stats', 'USAGE') AS privileged,
       extract(epoch FROM clock_timestamp() - min(a.xact_start)) AS oldest,
       extract(epoch FROM clock_timestamp() - min(a.xact_start) FILTER (WHERE a.backend_xid IS NOT NULL)) AS oldest_write
  FROM pg_stat_activity AS a
 WHERE a.xact_start IS NOT NULL AND a.state IS DISTINCT FROM 'idle' AND a.pid <> pg_backend_pid()`;
}
