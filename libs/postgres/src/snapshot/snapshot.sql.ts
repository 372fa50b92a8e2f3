import { ISO_FORMAT } from '../schema/append.sql';
import { quoted } from '../schema/schema-name';
import { DATA_COLUMNS } from '../sql/read.sql';

/**
 * The snapshot load, one statement (so one round trip and one MVCC snapshot): the current version
 * of each stream of the boundary (`b`, one index probe each), the newest snapshot of the key that
 * is not ahead of them (`sn`), the log's head (`h`), and the boundary's events after the
 * snapshot's versions (all of them without one), merged by global position. The head, the
 * versions and the snapshot ride on the first row only; with no event there is one row of them.
 *
 * Parameters: $1 boundary (sorted text[]), $2 scope key, $3 command name, $4 state version,
 * $5 fingerprint. Each stream is read with its own probe (`LATERAL … OFFSET 0`), as
 * `readStreamsSql` does and for the same reason: a cached generic plan must not pick a scan.
 */
export function loadSnapshotSql(schema: string): string {
  const s = quoted(schema);
  return `
WITH b AS MATERIALIZED (
  SELECT u.id, u.ord,
         coalesce((SELECT max(c.stream_version) FROM ${s}.events AS c WHERE c.stream_id = u.id), 0) AS cv
    FROM unnest($1::text[]) WITH ORDINALITY AS u(id, ord)
),
sn AS MATERIALIZED (
  SELECT n.versions, n.encoding, n.state FROM ${s}.snapshots AS n
   WHERE n.scope_key = $2::text AND n.command_name = $3::text AND n.boundary = $1::text[]
     AND n.state_version = $4::integer AND n.fingerprint = $5::text
     AND NOT EXISTS (SELECT 1 FROM b WHERE n.versions[b.ord] > b.cv)
   ORDER BY n.snapshot_id DESC LIMIT 1
),
h AS MATERIALIZED (
  SELECT transaction_id::text AS x, global_position AS p FROM ${s}.events
   ORDER BY transaction_id DESC, global_position DESC LIMIT 1
),
top AS MATERIALIZED (
  SELECT (SELECT x FROM h) AS hx, (SELECT p FROM h) AS hp,
         (SELECT array_agg(b.cv ORDER BY b.ord) FROM b) AS cv,
         sn.versions AS nv, sn.encoding AS ne, sn.state AS ns
    FROM (SELECT 1) AS one LEFT JOIN sn ON true
)
SELECT CASE WHEN lag(true) OVER w IS NULL THEN top.hx END AS hx,
       CASE WHEN lag(true) OVER w IS NULL THEN top.hp END AS hp,
       CASE WHEN lag(true) OVER w IS NULL THEN top.cv END AS cv,
       CASE WHEN lag(true) OVER w IS NULL THEN top.nv END AS nv,
       CASE WHEN lag(true) OVER w IS NULL THEN top.ne END AS ne,
       CASE WHEN lag(true) OVER w IS NULL THEN top.ns END AS ns,
       e.global_position AS p, e.event_id::text AS i, e.stream_id AS s, e.stream_version AS v,
       e.type AS t, e.schema_version AS sv, ${DATA_COLUMNS}, e.metadata AS m,
       to_char(e.occurred_at AT TIME ZONE 'UTC', ${ISO_FORMAT}) AS o,
       to_char(e.recorded_at AT TIME ZONE 'UTC', ${ISO_FORMAT}) AS r
  FROM top LEFT JOIN (
    b CROSS JOIN LATERAL (
      SELECT * FROM ${s}.events AS x
       WHERE x.stream_id = b.id
         AND x.stream_version > coalesce((SELECT sn.versions[b.ord] FROM sn), 0)
      OFFSET 0
    ) AS e
  ) ON true
WINDOW w AS (ORDER BY e.global_position)
 ORDER BY e.global_position`;
}

/** Stores one snapshot. $1 scope key … $8 state. */
export function saveSnapshotSql(schema: string): string {
  return `INSERT INTO ${quoted(schema)}.snapshots
  (scope_key, command_name, boundary, versions, state_version, fingerprint, encoding, state)
  VALUES ($1::text, $2::text, $3::text[], $4::bigint[], $5::integer, $6::text, $7::text, $8::bytea)`;
}

/** Deletes all but the newest $4 snapshots of a scope ($1 key, $2 command name, $3 boundary). */
export function pruneSnapshotsSql(schema: string): string {
  const s = quoted(schema);
  return `
WITH kept AS (
  SELECT snapshot_id FROM ${s}.snapshots
   WHERE scope_key = $1::text AND command_name = $2::text AND boundary = $3::text[]
   ORDER BY snapshot_id DESC LIMIT $4::integer
), gone AS (
  DELETE FROM ${s}.snapshots AS n
   WHERE n.scope_key = $1::text AND n.command_name = $2::text AND n.boundary = $3::text[]
     AND n.snapshot_id NOT IN (SELECT snapshot_id FROM kept)
  RETURNING 1
)
SELECT count(*)::integer AS n FROM gone`;
}
