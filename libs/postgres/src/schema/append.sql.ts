import {
  notificationChannel,
  POSITION_LOCK_NAMESPACE,
  quoted,
  STREAM_LOCK_NAMESPACE,
} from './schema-name';

/** ISO-8601 UTC with milliseconds, like `Date.prototype.toISOString`. */
export const ISO_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * The append function of schema version 1, kept as it was so that version 1 stays reproducible
 * (version 3 adds {@link appendFunctionSqlV3}, version 4 {@link appendFunctionSqlV4}, version 5
 * {@link appendBatchFunctionSqlV5}, version 6 `appendBatchFunctionSqlV6`, which the store calls). The whole of an append in one round trip.
 *
 * 1. Lock every participant (guards included) with a transaction-scoped advisory lock on its
 *    stream id, in one stable order (sorted keys), so concurrent multi-stream appends cannot
 *    deadlock. Then read the versions: each statement of the function takes a fresh snapshot
 *    (READ COMMITTED), so it sees every commit of the previous holders. Locking before reading is
 *    what makes the check correct; a plain read-then-insert is racy at READ COMMITTED.
 *    Advisory locks rather than row locks: they need no transaction id, see 3.
 * 2. Check every expectation. On any conflict, return the actual versions; nothing was written
 *    (not even a transaction id was taken) and the caller reports every offending stream.
 * 3. Take the transaction id and reserve the events' global positions inside one short critical
 *    section (a session advisory lock, released at once). Transaction ids and positions are then
 *    handed out in the same order by every append, so reading the log by (transaction id,
 *    position) — what makes `readAll` gap-safe — also yields increasing positions; and positions
 *    are reserved while the stream locks are held, so they increase with stream versions.
 * 4. Insert every event with one statement, upsert the stream versions, NOTIFY (sent at commit).
 *
 * Returned rows: `conflict`/`stream` (a participant and its version before the append), `event`
 * (one per inserted event) and `head` (the log's head, for appends that wrote no event).
 */
export function appendFunctionSql(schema: string): string {
  const s = quoted(schema);
  const positionLock = `${POSITION_LOCK_NAMESPACE}, hashtext('${schema}')`;
  return `
CREATE OR REPLACE FUNCTION ${s}.append_events(
  p_stream_ids text[], p_kinds text[], p_versions bigint[], p_counts integer[], p_events jsonb
) RETURNS TABLE (
  r_kind text, r_stream_id text, r_version bigint, r_position bigint, r_tx text,
  r_occurred_at text, r_recorded_at text
) LANGUAGE plpgsql AS $fn$
DECLARE
  v_total integer := 0;
  v_positions bigint[];
  v_actual bigint[];
  v_conflict boolean;
  v_key integer;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'EventCore appends run at READ COMMITTED, not %', current_setting('transaction_isolation')
      USING ERRCODE = 'feature_not_supported';
  END IF;

  FOR v_key IN
    SELECT DISTINCT hashtext('${schema}:' || u.id) FROM unnest(p_stream_ids) AS u(id) ORDER BY 1
  LOOP
    PERFORM pg_advisory_xact_lock(${STREAM_LOCK_NAMESPACE}, v_key);
  END LOOP;

  SELECT array_agg(coalesce(st.version, 0) ORDER BY u.ord) INTO v_actual
    FROM unnest(p_stream_ids) WITH ORDINALITY AS u(id, ord)
    LEFT JOIN ${s}.streams AS st ON st.stream_id = u.id;

  SELECT bool_or(NOT CASE c.kind WHEN 'any' THEN true WHEN 'exists' THEN c.actual > 0
                                 ELSE c.actual = c.expected END)
    INTO v_conflict
    FROM unnest(p_kinds, p_versions, v_actual) AS c(kind, expected, actual);

  IF v_conflict THEN
    RETURN QUERY SELECT 'conflict'::text, u.id, u.actual, NULL::bigint, NULL::text, NULL::text, NULL::text
      FROM unnest(p_stream_ids, v_actual) AS u(id, actual);
    RETURN;
  END IF;

  RETURN QUERY SELECT 'stream'::text, u.id, u.actual, NULL::bigint, NULL::text, NULL::text, NULL::text
    FROM unnest(p_stream_ids, v_actual) AS u(id, actual);

  SELECT coalesce(sum(c), 0) INTO v_total FROM unnest(p_counts) AS c;
  IF v_total = 0 THEN
    RETURN QUERY SELECT 'head'::text, NULL::text, NULL::bigint, e.global_position, e.transaction_id::text,
                        NULL::text, NULL::text
      FROM ${s}.events AS e ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1;
    RETURN;
  END IF;

  BEGIN
    PERFORM pg_advisory_lock(${positionLock});
    PERFORM pg_current_xact_id();
    SELECT array_agg(n.p ORDER BY n.p) INTO v_positions
      FROM (SELECT nextval('${s}.events_position_seq') AS p FROM generate_series(1, v_total)) AS n;
    PERFORM pg_advisory_unlock(${positionLock});
  EXCEPTION WHEN query_canceled OR others THEN
    -- A session lock outlives the transaction: never leave it behind.
    PERFORM pg_advisory_unlock(${positionLock});
    RAISE;
  END;

  RETURN QUERY
  INSERT INTO ${s}.events AS ev
    (global_position, stream_id, stream_version, event_id, type, schema_version, data, metadata, occurred_at)
  SELECT v_positions[x.ord], p_stream_ids[x.s], v_actual[x.s] + x.k, x.i, x.t, x.v, x.d, x.m, x.o
    FROM ROWS FROM (jsonb_to_recordset(p_events)
           AS (s integer, k integer, i uuid, t text, v integer, d jsonb, m jsonb, o timestamptz))
         WITH ORDINALITY AS x(s, k, i, t, v, d, m, o, ord)
  RETURNING 'event'::text, ev.stream_id, ev.stream_version, ev.global_position, ev.transaction_id::text,
            to_char(ev.occurred_at AT TIME ZONE 'UTC', ${ISO_FORMAT}),
            to_char(ev.recorded_at AT TIME ZONE 'UTC', ${ISO_FORMAT});

  INSERT INTO ${s}.streams AS st (stream_id, version)
  SELECT u.id, u.actual + u.added FROM unnest(p_stream_ids, v_actual, p_counts) AS u(id, actual, added)
   WHERE u.added > 0
  ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version;

  PERFORM pg_notify('${notificationChannel(schema)}',
                    pg_current_xact_id()::text || ':' || v_positions[v_total]::text);
END
$fn$`;
}

/**
 * The append function of schema version 3 (`append_events_v3`), kept as it was (version 4 adds
 * binary encodings to it): the same
 * algorithm as version 1 (see {@link appendFunctionSql} for why each step is there), made cheaper.
 *
 * - Events travel as parallel arrays (`unnest`), not as one JSON document that the server parses
 *   and takes apart again: each `data` and `metadata` is parsed once, by `jsonb_in`.
 * - The answer is ONE row: the participants' versions before the append, the first reserved
 *   position (positions are consecutive: they are reserved under the position lock), the
 *   transaction id and the recording time. The client knows everything else it echoes.
 * - Fewer statements (the stream locks in one, versions and the check in one), and generic plans
 *   (`plan_cache_mode`): re-planning every statement for every call cost more than running it.
 * - NOTIFY only when `p_notify` says so: at commit it takes a cluster-wide lock that it holds
 *   through the WAL flush, which serialises every notifying commit and defeats group commit. The
 *   store instead notifies after commit, coalesced, from a transaction that does not wait for a
 *   flush (see `PostgresEventStore`).
 *
 * `r_conflict` true: nothing was written and `r_versions` are the actual versions.
 */
export function appendFunctionSqlV3(schema: string): string {
  return appendFunctionSqlOf(schema, 3);
}

/** Versions 3 and 4 share everything but the encoding columns. */
function appendFunctionSqlOf(schema: string, version: 3 | 4): string {
  const binary = version === 4;
  const s = quoted(schema);
  const positionLock = `${POSITION_LOCK_NAMESPACE}, hashtext('${schema}')`;
  return `
CREATE OR REPLACE FUNCTION ${s}.append_events_v${version}(
  p_stream_ids text[], p_kinds text[], p_versions bigint[], p_counts integer[],
  p_writes integer[], p_offsets integer[], p_event_ids uuid[], p_types text[], p_schema_versions integer[],
  p_data jsonb[], p_metadata jsonb[], p_occurred_at timestamptz[],${binary ? ' p_encodings text[], p_bytes text[],' : ''}
  p_notify boolean,
  OUT r_conflict boolean, OUT r_versions bigint[], OUT r_first_position bigint, OUT r_tx text,
  OUT r_recorded_at text, OUT r_head_position bigint
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_total integer := cardinality(p_event_ids);
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'EventCore appends run at READ COMMITTED, not %', current_setting('transaction_isolation')
      USING ERRCODE = 'feature_not_supported';
  END IF;

  -- Stream locks in sorted order (one statement; rows reach the lock call in the ORDER BY order).
  PERFORM pg_advisory_xact_lock(${STREAM_LOCK_NAMESPACE}, k.key)
     FROM (SELECT DISTINCT hashtext('${schema}:' || u.id) AS key FROM unnest(p_stream_ids) AS u(id) ORDER BY 1) AS k;

  -- A new statement, hence a new snapshot: it sees every commit of the previous lock holders.
  SELECT array_agg(coalesce(st.version, 0) ORDER BY u.ord),
         coalesce(bool_or(NOT CASE u.kind WHEN 'any' THEN true WHEN 'exists' THEN coalesce(st.version, 0) > 0
                                           ELSE coalesce(st.version, 0) = u.expected END), false)
    INTO r_versions, r_conflict
    FROM unnest(p_stream_ids, p_kinds, p_versions) WITH ORDINALITY AS u(id, kind, expected, ord)
    LEFT JOIN ${s}.streams AS st ON st.stream_id = u.id;

  IF r_conflict THEN
    RETURN;
  END IF;

  IF v_total = 0 THEN
    SELECT e.global_position, e.transaction_id::text INTO r_head_position, r_tx
      FROM ${s}.events AS e ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1;
    RETURN;
  END IF;

  BEGIN
    PERFORM pg_advisory_lock(${positionLock});
    r_tx := pg_current_xact_id()::text;
    r_first_position := nextval('${s}.events_position_seq');
    IF v_total > 1 THEN
      PERFORM nextval('${s}.events_position_seq') FROM generate_series(2, v_total);
    END IF;
    PERFORM pg_advisory_unlock(${positionLock});
  EXCEPTION WHEN query_canceled OR others THEN
    -- A session lock outlives the transaction: never leave it behind.
    PERFORM pg_advisory_unlock(${positionLock});
    RAISE;
  END;

  INSERT INTO ${s}.events
    (global_position, stream_id, stream_version, event_id, type, schema_version, data, metadata, occurred_at${binary ? ', encoding, data_bytes' : ''})
  SELECT r_first_position + x.n - 1, p_stream_ids[x.w], r_versions[x.w] + x.k, x.i, x.t, x.v, x.d, x.m, x.o${binary ? ", coalesce(x.e, 'json'), decode(x.b, 'base64')" : ''}
    FROM unnest(p_writes, p_offsets, p_event_ids, p_types, p_schema_versions, p_data, p_metadata, p_occurred_at${binary ? ', p_encodings, p_bytes' : ''})
         WITH ORDINALITY AS x(w, k, i, t, v, d, m, o, ${binary ? 'e, b, ' : ''}n);

  INSERT INTO ${s}.streams AS st (stream_id, version)
  SELECT u.id, u.actual + u.added FROM unnest(p_stream_ids, r_versions, p_counts) AS u(id, actual, added)
   WHERE u.added > 0
  ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version;

  r_recorded_at := to_char(now() AT TIME ZONE 'UTC', ${ISO_FORMAT});
  IF p_notify THEN
    PERFORM pg_notify('${notificationChannel(schema)}', r_tx || ':' || (r_first_position + v_total - 1)::text);
  END IF;
END
$fn$`;
}

/**
 * The append function of schema version 4 (`append_events_v4`), kept for older library instances
 * during a rolling upgrade (the store calls version 5, {@link appendBatchFunctionSqlV5}): version 3
 * (see {@link appendFunctionSqlV3}; locking, positions, NOTIFY and the answer row are unchanged)
 * plus binary encodings. `p_encodings` and `p_bytes` are NULL when every event is JSON, so the
 * usual append only gains two NULL parameters (`unnest` pads a NULL array with NULLs). Otherwise,
 * per event: the encoding name (NULL for JSON) and the base64 of the bytes, decoded here into
 * `data_bytes` while the event's `p_data` element is NULL. Base64 is what the caller already holds
 * and is shorter on the wire than a `bytea[]` literal (hex), so Node.js converts nothing.
 * Version 3 stays, for an older library during a rolling upgrade (its JSON rows satisfy the
 * version 4 check through the column defaults).
 */
export function appendFunctionSqlV4(schema: string): string {
  return appendFunctionSqlOf(schema, 4);
}

/**
 * The append function of schema version 5 (`append_batch_v5`), kept for older library instances
 * during a rolling upgrade (the store calls version 6, `appendBatchFunctionSqlV6`): several
 * independent appends in one call, one transaction and one WAL flush. Concurrent commands of one
 * process share a round trip this way (see `AppendBatcher`), and the per-statement work of the
 * server (the main cost of a small append: each statement of version 4 costs more than inserting
 * its row) is paid once per batch instead of once per append.
 *
 * Each append keeps its own outcome: an append whose expectations fail writes nothing and is
 * reported as a conflict, while the other appends of the batch are written. Steps as in version 4
 * (see {@link appendFunctionSql} for why each is there): lock every stream of the batch in sorted
 * order, read the versions (one index probe per stream: a join on `unnest` got a hash join over the
 * whole `streams` table as its generic plan), decide per append, reserve the positions of the
 * events of the appends without conflict (consecutive, in event order) under the position lock,
 * insert them and move their streams' versions (one statement). A batch of one stream — most
 * commands — locks and reads it with simple expressions and one index probe instead of the
 * set-based statements (31 µs less server CPU of 233). Every statement goes by an index: `enable_seqscan =
 * off` keeps the cached generic plans from choosing a scan of a table that was small when they were
 * made.
 *
 * The caller never puts two appends on the same stream into one batch (their order would matter).
 * `p_appends` gives, per write, its append (1-based, ascending); `p_writes` per event its write.
 *
 * Returns one row: `r_failed` (the appends with a conflict), `r_versions` (per write, its stream's
 * version before the batch), and the batch's first position, transaction id, recording time and,
 * for a batch without events, the log's head. (One row of OUT parameters rather than a row per
 * append: a last `RETURN QUERY` cost a sixth of a small append's server time.)
 */
export function appendBatchFunctionSqlV5(schema: string): string {
  const s = quoted(schema);
  const positionLock = `${POSITION_LOCK_NAMESPACE}, hashtext('${schema}')`;
  return `
CREATE OR REPLACE FUNCTION ${s}.append_batch_v5(
  p_appends integer[], p_stream_ids text[], p_kinds text[], p_versions bigint[], p_counts integer[],
  p_writes integer[], p_offsets integer[], p_event_ids uuid[], p_types text[], p_schema_versions integer[],
  p_data jsonb[], p_metadata jsonb[], p_occurred_at timestamptz[], p_encodings text[], p_bytes text[],
  p_notify boolean
,
  OUT r_failed integer[], OUT r_versions bigint[], OUT r_first_position bigint, OUT r_tx text,
  OUT r_recorded_at text, OUT r_head_position bigint
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $fn$
DECLARE
  v_total integer;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'EventCore appends run at READ COMMITTED, not %', current_setting('transaction_isolation')
      USING ERRCODE = 'feature_not_supported';
  END IF;

  IF cardinality(p_stream_ids) = 1 THEN
    -- One stream (most commands): the same steps, as simple expressions and one index probe.
    PERFORM pg_advisory_xact_lock(${STREAM_LOCK_NAMESPACE}, hashtext('${schema}:' || p_stream_ids[1]));
    -- A new statement, hence a new snapshot: it sees every commit of the previous lock holders.
    r_versions := ARRAY[coalesce((SELECT st.version FROM ${s}.streams AS st WHERE st.stream_id = p_stream_ids[1]), 0)];
    IF (CASE p_kinds[1] WHEN 'any' THEN true WHEN 'exists' THEN r_versions[1] > 0
                        ELSE r_versions[1] = p_versions[1] END) THEN
      r_failed := '{}';
      v_total := p_counts[1];
    ELSE
      r_failed := ARRAY[1];
      v_total := 0;
    END IF;
  ELSE
    -- Stream locks in sorted order (one statement; rows reach the lock call in the ORDER BY order).
    PERFORM pg_advisory_xact_lock(${STREAM_LOCK_NAMESPACE}, k.key)
       FROM (SELECT DISTINCT hashtext('${schema}:' || u.id) AS key FROM unnest(p_stream_ids) AS u(id) ORDER BY 1) AS k;

    -- A new statement, hence a new snapshot: it sees every commit of the previous lock holders.
    WITH w AS (
      SELECT u.ord, u.a, u.kind, u.expected, u.added,
             coalesce((SELECT st.version FROM ${s}.streams AS st WHERE st.stream_id = u.id), 0) AS actual
        FROM unnest(p_appends, p_stream_ids, p_kinds, p_versions, p_counts) WITH ORDINALITY AS u(a, id, kind, expected, added, ord)
    ), checked AS (
      SELECT w.*, NOT CASE w.kind WHEN 'any' THEN true WHEN 'exists' THEN w.actual > 0
                                  ELSE w.actual = w.expected END AS bad
        FROM w
    ), failed AS (
      SELECT array_agg(DISTINCT c.a) AS appends FROM checked AS c WHERE c.bad
    )
    SELECT array_agg(c.actual ORDER BY c.ord), coalesce(f.appends, '{}'),
           coalesce(sum(c.added) FILTER (WHERE f.appends IS NULL OR NOT (c.a = ANY (f.appends))), 0)
      INTO r_versions, r_failed, v_total
      FROM checked AS c CROSS JOIN failed AS f
     GROUP BY f.appends;
  END IF;

  IF v_total > 0 THEN
    BEGIN
      PERFORM pg_advisory_lock(${positionLock});
      r_tx := pg_current_xact_id()::text;
      r_first_position := nextval('${s}.events_position_seq');
      IF v_total > 1 THEN
        PERFORM nextval('${s}.events_position_seq') FROM generate_series(2, v_total);
      END IF;
      PERFORM pg_advisory_unlock(${positionLock});
    EXCEPTION WHEN query_canceled OR others THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(${positionLock});
      RAISE;
    END;

    -- One statement for both tables.
    WITH inserted AS (
      INSERT INTO ${s}.events
        (global_position, stream_id, stream_version, event_id, type, schema_version, data, metadata, occurred_at, encoding, data_bytes)
      SELECT r_first_position + row_number() OVER (ORDER BY x.n) - 1, p_stream_ids[x.w], r_versions[x.w] + x.k,
             x.i, x.t, x.v, x.d, x.m, x.o, coalesce(x.e, 'json'), decode(x.b, 'base64')
        FROM unnest(p_writes, p_offsets, p_event_ids, p_types, p_schema_versions, p_data, p_metadata, p_occurred_at, p_encodings, p_bytes)
             WITH ORDINALITY AS x(w, k, i, t, v, d, m, o, e, b, n)
       WHERE NOT (p_appends[x.w] = ANY (r_failed))
      RETURNING 1
    )
    INSERT INTO ${s}.streams AS st (stream_id, version)
    SELECT u.id, u.actual + u.added FROM unnest(p_appends, p_stream_ids, r_versions, p_counts) AS u(a, id, actual, added)
     WHERE u.added > 0 AND NOT (u.a = ANY (r_failed))
    ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version;

    IF p_notify THEN
      PERFORM pg_notify('${notificationChannel(schema)}', r_tx || ':' || (r_first_position + v_total - 1)::text);
    END IF;
  ELSIF cardinality(r_failed) < p_appends[cardinality(p_appends)] THEN
    -- Guards only: their position is the log's head. (When every append conflicted, none is needed.)
    SELECT e.global_position, e.transaction_id::text INTO r_head_position, r_tx
      FROM ${s}.events AS e ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1;
  END IF;
  r_recorded_at := to_char(now() AT TIME ZONE 'UTC', ${ISO_FORMAT});
END
$fn$`;
}
