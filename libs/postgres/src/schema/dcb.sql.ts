import { ISO_FORMAT } from './append.sql';
import {
  DCB_LOCK_NAMESPACE,
  notificationChannel,
  POSITION_LOCK_NAMESPACE,
  quoted,
  STREAM_LOCK_NAMESPACE,
} from './schema-name';

/**
 * The DCB lock key of `name` (`type:<type>`, `tag:<tag>` or `all:`), in {@link DCB_LOCK_NAMESPACE}.
 * A hash collision only makes two unrelated names wait on each other; it never lets a conflict pass.
 */
function dcbKey(schema: string, name: string): string {
  return `hashtext('${schema}:' || ${name})`;
}

/**
 * The DCB keys of what an append writes, one row (`key`) each: every event type, every tag, and
 * the `all:` key that a condition on every event (`{ items: [] }`, or an item with neither types
 * nor tags) takes exclusively.
 */
function writtenKeys(schema: string): string {
  return `SELECT ${dcbKey(schema, `'type:' || t`)} FROM unnest(p_types) AS t
             UNION ALL SELECT ${dcbKey(schema, `'tag:' || t`)} FROM unnest(p_tags) AS t
             UNION ALL SELECT ${dcbKey(schema, `'all:'`)}`;
}

/** Stream locks in sorted order (one statement; rows reach the lock call in the ORDER BY order). */
function streamLocks(schema: string): string {
  return `PERFORM pg_advisory_xact_lock(${STREAM_LOCK_NAMESPACE}, k.key)
     FROM (SELECT DISTINCT hashtext('${schema}:' || u.id) AS key FROM unnest(p_stream_ids) AS u(id) ORDER BY 1) AS k;`;
}

/** Takes the transaction id and `v_total` consecutive positions together (see `appendFunctionSql`, step 3). */
function reservePositions(schema: string): string {
  const positionLock = `${POSITION_LOCK_NAMESPACE}, hashtext('${schema}')`;
  return `BEGIN
      PERFORM pg_advisory_lock(${positionLock});
      r_tx := pg_current_xact_id()::text;
      r_first_position := nextval('${quoted(schema)}.events_position_seq');
      IF v_total > 1 THEN
        PERFORM nextval('${quoted(schema)}.events_position_seq') FROM generate_series(2, v_total);
      END IF;
      PERFORM pg_advisory_unlock(${positionLock});
    EXCEPTION WHEN query_canceled OR others THEN
      -- A session lock outlives the transaction: never leave it behind.
      PERFORM pg_advisory_unlock(${positionLock});
      RAISE;
    END;`;
}

/**
 * Inserts the events (with their tags), their rows of `event_tags` and the new stream versions,
 * in one statement. Tags travel flattened: `p_tags` holds every event's tags in event order and
 * `p_tag_counts` how many are each event's; both are NULL when no event has a tag, and then a
 * statement without the tag columns and `event_tags` runs (measured with pgbench, one untagged
 * append per transaction: 5–15% more appends per second than through the tagged statement).
 * `stream`, `version` and `keep` are the expressions of an event's stream, version and whether it
 * is written (over `x`, the events); `writes` yields the stream writes (rows `u` with `id`,
 * `actual`, `added`) and `keepWrite` says which move their stream's version.
 */
function insertEvents(
  schema: string,
  parts: { stream: string; version: string; keep: string; writes: string; keepWrite: string },
): string {
  const s = quoted(schema);
  const columns =
    'global_position, stream_id, stream_version, event_id, type, schema_version, data, metadata, occurred_at, encoding, data_bytes';
  const values = `r_first_position + row_number() OVER (ORDER BY x.n) - 1, ${parts.stream}, ${parts.version},
             x.i, x.t, x.v, x.d, x.m, x.o, coalesce(x.e, 'json'), decode(x.b, 'base64')`;
  const streams = `INSERT INTO ${s}.streams AS st (stream_id, version)
    SELECT u.id, u.actual + u.added FROM ${parts.writes}
     WHERE u.added > 0 AND ${parts.keepWrite}
    ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version;`;
  return `IF p_tags IS NULL THEN
      WITH inserted AS (
        INSERT INTO ${s}.events (${columns})
        SELECT ${values}
          FROM unnest(p_writes, p_offsets, p_event_ids, p_types, p_schema_versions, p_data, p_metadata, p_occurred_at, p_encodings, p_bytes)
               WITH ORDINALITY AS x(w, k, i, t, v, d, m, o, e, b, n)
         WHERE ${parts.keep}
        RETURNING 1
      )
      ${streams}
    ELSE
      WITH x AS (
        SELECT u.*, (sum(u.tc) OVER (ORDER BY u.n))::integer AS te
          FROM unnest(p_writes, p_offsets, p_event_ids, p_types, p_schema_versions, p_data, p_metadata, p_occurred_at, p_encodings, p_bytes, p_tag_counts)
               WITH ORDINALITY AS u(w, k, i, t, v, d, m, o, e, b, tc, n)
      ), inserted AS (
        INSERT INTO ${s}.events (${columns}, tags)
        SELECT ${values}, coalesce(p_tags[x.te - x.tc + 1 : x.te], '{}')
          FROM x
         WHERE ${parts.keep}
        RETURNING global_position, type, tags
      ), tagged AS (
        INSERT INTO ${s}.event_tags (tag, global_position, type)
        SELECT g.tag, i.global_position, i.type FROM inserted AS i CROSS JOIN LATERAL unnest(i.tags) AS g(tag)
      )
      ${streams}
    END IF;`;
}

/**
 * Event ids are unique across the events table's partitions (schema version 8): the hot
 * partition's unique index refuses a second id there, and this check, a statement of its own
 * after the insert, refuses an id that an archived event holds. An archive moving that event out of
 * the hot partition at the same moment cannot slip between: our insert waits on the moved row's
 * uncommitted delete in the hot index, and this later statement's snapshot then sees it archived.
 */
function archivedIdCheck(schema: string): string {
  const s = quoted(schema);
  return `SELECT a.event_id INTO v_duplicate FROM ${s}.events AS a
     WHERE a.archived AND a.event_id = ANY (p_event_ids) LIMIT 1;
    IF v_duplicate IS NOT NULL THEN
      RAISE EXCEPTION 'duplicate key value violates unique constraint "events_event_id_key"'
        USING ERRCODE = 'unique_violation', CONSTRAINT = 'events_event_id_key',
              DETAIL = format('Key (event_id)=(%s) already exists in the archived events.', v_duplicate);
    END IF;`;
}

const ISOLATION_CHECK = `IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'EventCore appends run at READ COMMITTED, not %', current_setting('transaction_isolation')
      USING ERRCODE = 'feature_not_supported';
  END IF;`;

/**
 * The batch append function of schema version 6 (`append_batch_v6`), which the store calls for
 * every append without a condition and without stream-less events: `append_batch_v5` (see
 * `appendBatchFunctionSqlV5` for the steps and why each is there) plus DCB tags and locks.
 *
 * - Each event's tags are stored in `events.tags` and, one row per tag, in `event_tags`, the
 *   index of tag queries (see {@link eventStoreSchemaV6}).
 * - After the stream locks, and before any version is read or position taken, the batch takes
 *   SHARED DCB locks (see `DCB_LOCK_NAMESPACE`) on every type and tag it writes and on the `all:`
 *   key, in sorted order. Writers never wait on each other for them; a conditional append that
 *   holds one of them exclusively (its query can match what this batch writes) makes the batch wait
 *   until it commits, and a conditional append that comes later waits for the batch to commit. So
 *   a plain stream append of a matching event can never slip between a condition's check and its
 *   commit (DESIGN §9, trap 3), and an append of unrelated types and tags never waits on one.
 *
 * Version 5 stays for an older library during a rolling upgrade; it takes no DCB locks (see
 * docs/dcb.md, "Rolling upgrade").
 */
export function appendBatchFunctionSqlV6(schema: string, archiving = false): string {
  const s = quoted(schema);
  return `
CREATE OR REPLACE FUNCTION ${s}.append_batch_${archiving ? 'v8' : 'v6'}(
  p_appends integer[], p_stream_ids text[], p_kinds text[], p_versions bigint[], p_counts integer[],
  p_writes integer[], p_offsets integer[], p_event_ids uuid[], p_types text[], p_schema_versions integer[],
  p_data jsonb[], p_metadata jsonb[], p_occurred_at timestamptz[], p_encodings text[], p_bytes text[],
  p_tags text[], p_tag_counts integer[], p_notify boolean,
  OUT r_failed integer[], OUT r_versions bigint[], OUT r_first_position bigint, OUT r_tx text,
  OUT r_recorded_at text, OUT r_head_position bigint${archiving ? ', OUT r_archived integer[]' : ''}
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $fn$
DECLARE
  v_total integer;${archiving ? '\n  v_version bigint;\n  v_archived boolean;\n  v_duplicate uuid;' : ''}
BEGIN
  ${ISOLATION_CHECK}

  IF cardinality(p_stream_ids) = 1 THEN
    PERFORM pg_advisory_xact_lock(${STREAM_LOCK_NAMESPACE}, hashtext('${schema}:' || p_stream_ids[1]));
  ELSE
    ${streamLocks(schema)}
  END IF;

  -- DCB locks, shared, sorted, before anything is read or a position taken.
  IF cardinality(p_event_ids) > 0 THEN
    PERFORM pg_advisory_xact_lock_shared(${DCB_LOCK_NAMESPACE}, k.key)
       FROM (SELECT DISTINCT u.key FROM (${writtenKeys(schema)}) AS u(key) ORDER BY 1) AS k;
  END IF;

  IF cardinality(p_stream_ids) = 1 THEN
    -- One stream (most commands): as simple expressions and one index probe.
    -- A new statement, hence a new snapshot: it sees every commit of the previous lock holders.
    ${
      archiving
        ? `SELECT st.version, st.archived_at IS NOT NULL INTO v_version, v_archived
      FROM ${s}.streams AS st WHERE st.stream_id = p_stream_ids[1];
    r_versions := ARRAY[coalesce(v_version, 0)];
    r_archived := CASE WHEN v_archived AND p_counts[1] > 0 THEN ARRAY[1] ELSE '{}' END;`
        : `r_versions := ARRAY[coalesce((SELECT st.version FROM ${s}.streams AS st WHERE st.stream_id = p_stream_ids[1]), 0)];`
    }
    IF ${archiving ? `cardinality(r_archived) = 0 AND ` : ''}(CASE p_kinds[1] WHEN 'any' THEN true WHEN 'exists' THEN r_versions[1] > 0
                        ELSE r_versions[1] = p_versions[1] END) THEN
      r_failed := '{}';
      v_total := p_counts[1];
    ELSE
      r_failed := ARRAY[1];
      v_total := 0;
    END IF;
  ELSE
    WITH w AS (
      SELECT u.ord, u.a, u.kind, u.expected, u.added,
             coalesce((SELECT st.version FROM ${s}.streams AS st WHERE st.stream_id = u.id), 0) AS actual${
               archiving
                 ? `,
             u.added > 0 AND EXISTS (SELECT FROM ${s}.streams AS st WHERE st.stream_id = u.id AND st.archived_at IS NOT NULL) AS archived`
                 : ''
             }
        FROM unnest(p_appends, p_stream_ids, p_kinds, p_versions, p_counts) WITH ORDINALITY AS u(a, id, kind, expected, added, ord)
    ), checked AS (
      SELECT w.*, ${archiving ? 'w.archived OR ' : ''}NOT CASE w.kind WHEN 'any' THEN true WHEN 'exists' THEN w.actual > 0
                                  ELSE w.actual = w.expected END AS bad
        FROM w
    ), failed AS (
      SELECT array_agg(DISTINCT c.a) AS appends FROM checked AS c WHERE c.bad
    )
    SELECT array_agg(c.actual ORDER BY c.ord), coalesce(f.appends, '{}'),
           coalesce(sum(c.added) FILTER (WHERE f.appends IS NULL OR NOT (c.a = ANY (f.appends))), 0)${
             archiving
               ? `,\n           coalesce(array_agg(c.ord) FILTER (WHERE c.archived), '{}')`
               : ''
           }
      INTO r_versions, r_failed, v_total${archiving ? ', r_archived' : ''}
      FROM checked AS c CROSS JOIN failed AS f
     GROUP BY f.appends;
  END IF;

  IF v_total > 0 THEN
    ${reservePositions(schema)}

    ${insertEvents(schema, {
      stream: 'p_stream_ids[x.w]',
      version: 'r_versions[x.w] + x.k',
      keep: 'NOT (p_appends[x.w] = ANY (r_failed))',
      writes: 'unnest(p_appends, p_stream_ids, r_versions, p_counts) AS u(a, id, actual, added)',
      keepWrite: 'NOT (u.a = ANY (r_failed))',
    })}
    ${archiving ? archivedIdCheck(schema) : ''}

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

/**
 * The call the store makes for every batch of appends: `append_batch_v8`, the function of
 * {@link appendBatchFunctionSqlV6} that refuses archived streams (schema version 8).
 */
export function appendBatchCallSql(schema: string): string {
  return `SELECT * FROM ${quoted(schema)}.append_batch_v8($1::integer[], $2::text[], $3::text[], $4::bigint[], $5::integer[], $6::integer[], $7::integer[], $8::uuid[], $9::text[], $10::integer[], $11::jsonb[], $12::jsonb[], $13::timestamptz[], $14::text[], $15::text[], $16::text[], $17::integer[], $18::boolean)`;
}

/**
 * The index ranges of the probes (see `queryProbes`), each in position order (`dir`) from `lower`
 * to `upper` (inclusive), keeping the rows `visible` says, at most `limit` rows per probe. Over
 * `p`, the probe (`k`, `key`, `tags`, `types`). Only the branch of the probe's kind runs (the others
 * stop at their one-time filter). Used by the condition check and by the read, so that both find
 * the same events the same way.
 *
 * A type range is written as a range of (type, position) rows, which only
 * `events_type_position_idx` can serve: with `type = key AND global_position >= lower`, the
 * generic plan walked the primary key from `lower` and filtered on the type, which reads the
 * whole log for a rare type.
 */
function probeRanges(
  s: string,
  range: { lower: string; upper: string; visible: string; dir: 'ASC' | 'DESC'; limit: string },
): string {
  const { lower, upper, visible, dir, limit } = range;
  return `(SELECT t.global_position AS p FROM ${s}.event_tags AS t JOIN ${s}.events AS e ON e.global_position = t.global_position
      WHERE p.k = 'tag' AND t.tag = p.key AND t.global_position BETWEEN ${lower} AND ${upper}
        AND (p.types IS NULL OR t.type = ANY (p.types)) AND e.tags @> p.tags AND ${visible}
      ORDER BY t.global_position ${dir} LIMIT ${limit})
    UNION ALL
    (SELECT e.global_position FROM ${s}.events AS e
      WHERE p.k = 'type' AND (e.type, e.global_position) >= (p.key, ${lower})
        AND (e.type, e.global_position) <= (p.key, ${upper}) AND ${visible}
      ORDER BY e.type ${dir}, e.global_position ${dir} LIMIT ${limit})
    UNION ALL
    (SELECT e.global_position FROM ${s}.events AS e
      WHERE p.k = 'all' AND e.global_position BETWEEN ${lower} AND ${upper} AND ${visible}
      ORDER BY e.global_position ${dir} LIMIT ${limit})`;
}

/** The largest bigint: the upper end of a range without one. */
const MAX_BIGINT = '9223372036854775807';

/**
 * The probes of a query (see `queryProbes`) as the functions and statements receive them: a jsonb
 * array of `{ k, key, tags, types }`.
 */
const PROBES = `jsonb_to_recordset(p_probes) AS p(k text, key text, tags text[], types text[])`;

/**
 * The DCB append function of schema version 6 (`append_dcb_v6`): one append — stream writes, events
 * in no stream (`p_writes` 0: stream `$event-<event id>`, version 1, no row in `streams`; the prefix
 * is core's `UNSTREAMED_PREFIX`) and an append condition — in one round trip. The store calls it
 * for every append with a condition or with stream-less events (never batched: each has its own
 * condition and its own locks).
 *
 * 1. Stream locks, exclusive, sorted (as every append).
 * 2. DCB locks, sorted by key: EXCLUSIVE on what the condition's query names — per probe (see
 *    `queryProbes`) the key of its tag (an item with tags: every event it matches carries that tag,
 *    so every writer of such an event holds that key shared), of its type (an item with types only:
 *    one probe per type) or `all:` (an item with neither, or no item) — and SHARED on the types and
 *    tags this append writes and on `all:` (so later conditions wait for it, as for any writer).
 *    A key that is both is taken exclusively, once. Every writer of an event the query can match
 *    holds one of these keys shared from before it takes a position until it commits, so once they
 *    are ours, every such event is either committed or will take a position after ours.
 * 3. A new statement, hence a new snapshot (READ COMMITTED), taken after every lock: the stream
 *    versions. A conflict returns at once (reported before a failed condition).
 * 4. Another new statement: does any event match the condition after `p_after` (any position when
 *    NULL)? Then nothing is written. Never checked before the locks: a check before them could pass
 *    and then miss an event committed between the check and the lock.
 * 5. Transaction id and positions together under the position lock, then the inserts (one
 *    statement), as `append_batch_v6`.
 *
 * `p_probes` NULL: no condition. Answers one row: `r_conflict` (with `r_versions`, the versions
 * before the append), `r_condition_failed`, and, when written, the first position, the transaction
 * id and the recording time; `r_head_position` for an append that wrote no event.
 */
export function appendDcbFunctionSqlV6(schema: string, archiving = false): string {
  const s = quoted(schema);
  return `
CREATE OR REPLACE FUNCTION ${s}.append_dcb_${archiving ? 'v8' : 'v6'}(
  p_stream_ids text[], p_kinds text[], p_versions bigint[], p_counts integer[],
  p_writes integer[], p_offsets integer[], p_event_ids uuid[], p_types text[], p_schema_versions integer[],
  p_data jsonb[], p_metadata jsonb[], p_occurred_at timestamptz[], p_encodings text[], p_bytes text[],
  p_tags text[], p_tag_counts integer[], p_probes jsonb, p_after bigint, p_notify boolean,
  OUT r_conflict boolean, OUT r_condition_failed boolean, OUT r_versions bigint[],
  OUT r_first_position bigint, OUT r_tx text, OUT r_recorded_at text, OUT r_head_position bigint${
    archiving ? ', OUT r_archived text[]' : ''
  }
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $fn$
DECLARE
  v_total integer := cardinality(p_event_ids);
  v_after bigint := coalesce(p_after, 0);${archiving ? '\n  v_duplicate uuid;' : ''}
BEGIN
  ${ISOLATION_CHECK}

  -- 1. Streams.
  ${streamLocks(schema)}

  -- 2. DCB keys in one sorted order: exclusive on what the condition reads, else shared.
  PERFORM CASE WHEN k.exclusive THEN pg_advisory_xact_lock(${DCB_LOCK_NAMESPACE}, k.key)
               ELSE pg_advisory_xact_lock_shared(${DCB_LOCK_NAMESPACE}, k.key) END
     FROM (SELECT u.key, bool_or(u.exclusive) AS exclusive
             FROM (SELECT ${dcbKey(schema, `p.k || ':' || coalesce(p.key, '')`)}, true FROM ${PROBES}
                   UNION ALL
                   SELECT w.key, false FROM (${writtenKeys(schema)}) AS w(key) WHERE v_total > 0
                  ) AS u(key, exclusive)
            GROUP BY u.key ORDER BY u.key) AS k;

  -- 3. Versions, in a snapshot taken after the locks.
  SELECT coalesce(array_agg(u.actual ORDER BY u.ord), '{}'),
         coalesce(bool_or(NOT CASE u.kind WHEN 'any' THEN true WHEN 'exists' THEN u.actual > 0
                                          ELSE u.actual = u.expected END), false)${
                                            archiving
                                              ? `,\n         coalesce(array_agg(u.id ORDER BY u.ord) FILTER (WHERE u.archived), '{}')`
                                              : ''
                                          }
    INTO r_versions, r_conflict${archiving ? ', r_archived' : ''}
    FROM (SELECT w.ord, w.kind, w.expected,${archiving ? ' w.id,' : ''}
                 coalesce((SELECT st.version FROM ${s}.streams AS st WHERE st.stream_id = w.id), 0) AS actual${
                   archiving
                     ? `,
                 w.added > 0 AND EXISTS (SELECT FROM ${s}.streams AS st WHERE st.stream_id = w.id AND st.archived_at IS NOT NULL) AS archived`
                     : ''
                 }
            FROM unnest(p_stream_ids, p_kinds, p_versions${archiving ? ', p_counts' : ''}) WITH ORDINALITY AS w(id, kind, expected, ${archiving ? 'added, ' : ''}ord)) AS u;
  r_condition_failed := false;
  IF ${archiving ? 'cardinality(r_archived) > 0 OR ' : ''}r_conflict THEN
    RETURN;
  END IF;

  -- 4. The condition, in another snapshot taken after the locks: one index probe per probe.
  IF p_probes IS NOT NULL THEN
    SELECT EXISTS (
      SELECT FROM ${PROBES} CROSS JOIN LATERAL (
        ${probeRanges(s, { lower: 'v_after + 1', upper: MAX_BIGINT, visible: 'true', dir: 'ASC', limit: '1' })}
      ) AS hit
    ) INTO r_condition_failed;
    IF r_condition_failed THEN
      RETURN;
    END IF;
  END IF;

  IF v_total > 0 THEN
    -- 5. Positions, then the events.
    ${reservePositions(schema)}

    ${insertEvents(schema, {
      stream: `CASE WHEN x.w = 0 THEN '$event-' || x.i::text ELSE p_stream_ids[x.w] END`,
      version: 'CASE WHEN x.w = 0 THEN 1 ELSE r_versions[x.w] + x.k END',
      keep: 'true',
      writes: 'unnest(p_stream_ids, r_versions, p_counts) AS u(id, actual, added)',
      keepWrite: 'true',
    })}
    ${archiving ? archivedIdCheck(schema) : ''}

    IF p_notify THEN
      PERFORM pg_notify('${notificationChannel(schema)}', r_tx || ':' || (r_first_position + v_total - 1)::text);
    END IF;
  ELSE
    SELECT e.global_position, e.transaction_id::text INTO r_head_position, r_tx
      FROM ${s}.events AS e ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1;
  END IF;
  r_recorded_at := to_char(now() AT TIME ZONE 'UTC', ${ISO_FORMAT});
END
$fn$`;
}

/** The call of {@link appendDcbFunctionSqlV6} that refuses archived streams (`append_dcb_v8`). */
export function appendDcbCallSql(schema: string): string {
  return `SELECT * FROM ${quoted(schema)}.append_dcb_v8($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::integer[], $6::integer[], $7::uuid[], $8::text[], $9::integer[], $10::jsonb[], $11::jsonb[], $12::timestamptz[], $13::text[], $14::text[], $15::text[], $16::integer[], $17::jsonb, $18::bigint, $19::boolean)`;
}

/**
 * The DCB read of schema version 6 (`read_events_v6`, for `EventStore.read`): the events matching
 * the probes (`p_probes`, see `queryProbes`) with positions from `p_from` to `p_to`, in position
 * order (descending when `p_backwards`), at most `p_limit` (NULL: all).
 *
 * Only the gap-safe prefix of the log, as `readAllSql`: events of transactions older than the
 * snapshot's xmin. Every append path takes its transaction id and its positions together under
 * the position lock, so that prefix is also a prefix in position order: no event can later commit
 * below a position read here, and a condition whose `after` comes from this read catches every
 * event committed later (DESIGN §9, trap 2).
 *
 * The first row (there is always one; without events, its event columns are NULL) also carries:
 * - `r_held`: committed matching events exist in the range beyond the prefix (an older write
 *   transaction, anywhere on the server, is still open). Looked for from the first event beyond
 *   the prefix in log order (one `events_log_idx` probe), by the same index ranges;
 * - `r_head`: the prefix's last event (`<xid>:<position>`), a position token at or after every
 *   event read.
 * Every probe is one index range scan that stops after `p_limit` rows; stream, type and schema
 * version repeat as NULL like in `readAllSql`.
 *
 * A function rather than a prepared statement: JIT. The generic plan's estimated cost (a hundred
 * probes assumed, and an unknown limit) grows with the table and passes `jit_above_cost` at a
 * few hundred thousand events, and then every read compiled its plan (80 ms instead of 1 ms
 * measured at 200,000 events); here `jit = off`, and the plan is cached once per connection.
 */
export function readEventsFunctionSqlV6(schema: string): string {
  const s = quoted(schema);
  const statement = (dir: 'ASC' | 'DESC') => `
    WITH bound AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
    probes AS MATERIALIZED (SELECT * FROM ${PROBES}),
    hits AS MATERIALIZED (
      SELECT DISTINCT h.p FROM probes AS p CROSS JOIN LATERAL (
        ${probeRanges(s, { lower: 'p_from', upper: 'p_to', visible: 'e.transaction_id < (SELECT xmin FROM bound)', dir, limit: 'p_limit' })}
      ) AS h
      ORDER BY h.p ${dir} LIMIT p_limit
    ),
    held_from AS MATERIALIZED (
      SELECT e.global_position AS p FROM ${s}.events AS e
       WHERE e.transaction_id >= (SELECT xmin FROM bound)
       ORDER BY e.transaction_id, e.global_position LIMIT 1
    ),
    held AS MATERIALIZED (
      SELECT EXISTS (
        SELECT FROM held_from AS f CROSS JOIN probes AS p CROSS JOIN LATERAL (
          ${probeRanges(s, { lower: 'greatest(p_from, f.p)', upper: 'p_to', visible: 'e.transaction_id >= (SELECT xmin FROM bound)', dir: 'ASC', limit: '1' })}
        ) AS h
      ) AS held
    ),
    head AS MATERIALIZED (
      SELECT e.transaction_id::text || ':' || e.global_position::text AS token FROM ${s}.events AS e
       WHERE e.transaction_id < (SELECT xmin FROM bound)
       ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1
    )
    SELECT CASE WHEN lag(true) OVER w IS NULL THEN (SELECT held FROM held) END,
           CASE WHEN lag(true) OVER w IS NULL THEN (SELECT token FROM head) END,
           e.global_position, e.event_id::text,
           CASE WHEN e.stream_id = lag(e.stream_id) OVER w THEN NULL ELSE e.stream_id END,
           e.stream_version,
           CASE WHEN e.type = lag(e.type) OVER w THEN NULL ELSE e.type END,
           CASE WHEN e.schema_version = lag(e.schema_version) OVER w THEN NULL ELSE e.schema_version END,
           coalesce(e.data, to_jsonb(translate(encode(e.data_bytes, 'base64'), E'\\n', ''))),
           nullif(e.encoding, 'json'),
           nullif(e.tags, '{}'),
           CASE WHEN e.metadata = lag(e.metadata) OVER w THEN NULL ELSE e.metadata END,
           CASE WHEN e.occurred_at = lag(e.occurred_at) OVER w THEN NULL
                ELSE to_char(e.occurred_at AT TIME ZONE 'UTC', ${ISO_FORMAT}) END,
           CASE WHEN e.recorded_at = lag(e.recorded_at) OVER w THEN NULL
                ELSE to_char(e.recorded_at AT TIME ZONE 'UTC', ${ISO_FORMAT}) END
      FROM (SELECT) AS one
      LEFT JOIN (hits JOIN ${s}.events AS e ON e.global_position = hits.p) ON true
    WINDOW w AS (ORDER BY e.global_position ${dir})
     ORDER BY e.global_position ${dir}`;
  return `
CREATE OR REPLACE FUNCTION ${s}.read_events_v6(
  p_probes jsonb, p_from bigint, p_to bigint, p_limit integer, p_backwards boolean
) RETURNS TABLE (
  r_held boolean, r_head text, r_p bigint, r_i text, r_s text, r_v bigint, r_t text, r_sv integer,
  r_d jsonb, r_en text, r_tg text[], r_m jsonb, r_o text, r_r text
) LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET jit = off AS $fn$
BEGIN
  IF p_backwards THEN
    RETURN QUERY ${statement('DESC')};
  ELSE
    RETURN QUERY ${statement('ASC')};
  END IF;
END
$fn$`;
}

/** The call of {@link readEventsFunctionSqlV6}, with the columns `RowDecoder` reads. */
export function readEventsCallSql(schema: string): string {
  return `SELECT r_held AS held, r_head AS head, r_p AS p, r_i AS i, r_s AS s, r_v AS v, r_t AS t,
       r_sv AS sv, r_d AS d, r_en AS en, r_tg AS tg, r_m AS m, r_o AS o, r_r AS r
  FROM ${quoted(schema)}.read_events_v6($1::jsonb, $2::bigint, $3::bigint, $4::integer, $5::boolean)`;
}
