import { InvalidOptionsError } from '@eventcore/core';
import type { SqlExecutor, SqlQueryable } from '../executor/sql-executor';
import { ALLOW_EVENT_MUTATION_SETTING } from './event-store.schema';
import { EVENT_COLUMNS, partitionedEventsSql, partitionedIndexesSql } from './partition.schema';
import { checkSchemaName, DEFAULT_SCHEMA, MIGRATION_LOCK_NAMESPACE, quoted } from './schema-name';

/** Options of {@link convertEventsToPartitioned}. */
export interface ConvertEventsOptions {
  /** @default 'eventcore' */
  readonly schema?: string;
  /** Events copied per transaction (1–1,000,000). @default 50000 */
  readonly batchSize?: number;
  /** Called after each step, e.g. to print progress. */
  readonly onProgress?: (progress: ConversionProgress) => void;
  /**
   * Stop after this many batches, leaving the recorded progress for the next run (tests and
   * operators who convert in slices use it). @default no limit
   */
  readonly maxBatches?: number;
}

/** Where a conversion stands. */
export interface ConversionProgress {
  readonly phase: 'copying' | 'indexing' | 'swapped' | 'already-partitioned' | 'paused';
  /** Events copied so far, over every run. */
  readonly copied: number;
}

/** What {@link convertEventsToPartitioned} did. */
export interface ConversionResult extends ConversionProgress {
  /** Events the final swap copied under its lock (those appended since the last batch). */
  readonly caughtUp: number;
  /** Milliseconds the events table was locked for the swap. */
  readonly swapMs: number;
}

const NEW_TABLE = 'events_conv';
/** The old table between the swap and its drop. */
const OLD_TABLE = 'events_unpartitioned';

/**
 * After the swap, in a transaction of its own: the position sequence moves to the new table (it
 * waits for appends holding positions, which the new table no longer keeps waiting), then the old
 * table and the progress record go. Idempotent.
 */
async function dropOldTable(tx: SqlQueryable, schema: string): Promise<void> {
  const s = quoted(schema);
  if (!(await exists(tx, `${s}.${OLD_TABLE}`))) return;
  await tx.query(`ALTER SEQUENCE ${s}.events_position_seq OWNED BY ${s}.events.global_position`);
  await tx.query(`DROP TABLE ${s}.${OLD_TABLE}`);
  await tx.query(`DROP TABLE IF EXISTS ${s}.partition_conversion`);
}

/**
 * Converts a store's unpartitioned events table (one that held events when schema version 8 ran)
 * into the partitioned one (hot and archived partitions, see `partitionedEventsSql`). Explicit,
 * never run at startup: it rewrites the table.
 *
 * 1. Copies the events in log order, `batchSize` per transaction, into `events_conv`, recording
 *    the last copied (transaction id, position) in `partition_conversion` in the same transaction.
 *    Appends go on meanwhile. Only the gap-safe prefix is copied (transactions older than the
 *    snapshot's xmin, as `readAll`), so an event that commits late always sorts after the cursor.
 *    Killed at any point, the next run resumes after the last committed batch.
 * 2. Builds the keys and indexes (each in its own transaction; a killed build is redone).
 * 3. Swaps in one short transaction: locks `events` (appends wait), copies what was appended since
 *    the last batch, moves the events of streams archived meanwhile, and renames the old table
 *    away and the new one into its place; then, in another transaction, moves the position
 *    sequence to the new table and drops the old one.
 *
 * Safe to run twice at once (an advisory lock serialises the steps) and after it finished (then it
 * does nothing). Needs the schema at version 8 (`migrate()` first).
 */
export async function convertEventsToPartitioned(
  executor: SqlExecutor,
  options: ConvertEventsOptions = {},
): Promise<ConversionResult> {
  const schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const batchSize = options.batchSize ?? 50_000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 1_000_000) {
    throw new InvalidOptionsError(
      'batchSize',
      `use an integer from 1 to 1000000, not ${String(batchSize)}`,
    );
  }
  const s = quoted(schema);
  const report = (progress: ConversionProgress) => options.onProgress?.(progress);
  const locked = <T>(work: (tx: SqlQueryable) => Promise<T>) =>
    executor.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        MIGRATION_LOCK_NAMESPACE,
        `${schema}:convert`,
      ]);
      return work(tx);
    });

  const started = await locked(async (tx) => {
    if (await isPartitioned(tx, schema)) {
      await dropOldTable(tx, schema); // a run killed right after its swap
      return false;
    }
    const [version] = await tx.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${s}.schema_version`,
    );
    if (Number(version?.v ?? 0) < 8) {
      throw new InvalidOptionsError(
        'schema',
        `${schema} is at version ${version?.v ?? 0}: run migrate() (version 8) before converting`,
      );
    }
    await tx.query(`CREATE TABLE IF NOT EXISTS ${s}.partition_conversion (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      cursor_tx xid8 NOT NULL DEFAULT '0',
      cursor_position bigint NOT NULL DEFAULT 0,
      copied bigint NOT NULL DEFAULT 0,
      phase text NOT NULL DEFAULT 'copying',
      started_at timestamptz NOT NULL DEFAULT now()
    )`);
    if (!(await exists(tx, `${s}.${NEW_TABLE}`))) {
      for (const statement of partitionedEventsSql(schema, NEW_TABLE, false)) {
        await tx.query(statement);
      }
    }
    await tx.query(`INSERT INTO ${s}.partition_conversion DEFAULT VALUES ON CONFLICT DO NOTHING`);
    return true;
  });
  if (!started) {
    const done = { phase: 'already-partitioned', copied: 0, caughtUp: 0, swapMs: 0 } as const;
    report(done);
    return done;
  }

  // 1. Copy.
  let copied = 0;
  for (let batches = 0; ; batches++) {
    if (options.maxBatches !== undefined && batches >= options.maxBatches) {
      const paused = { phase: 'paused', copied, caughtUp: 0, swapMs: 0 } as const;
      report(paused);
      return paused;
    }
    const [row] = await locked((tx) =>
      tx.query<{ n: string | number; copied: string | number }>(copyBatchSql(schema), [batchSize]),
    );
    copied = Number(row?.copied ?? copied);
    report({ phase: 'copying', copied });
    if (Number(row?.n ?? 0) < batchSize) break;
  }

  // 2. Keys and indexes, each on its own so a kill loses one build at most.
  for (const statement of partitionedIndexesSql(schema, NEW_TABLE)) {
    await locked(async (tx) => {
      const name = /(?:CONSTRAINT|INDEX) (\w+)/.exec(statement)![1]!;
      if (!(await exists(tx, `${s}.${name}`))) await tx.query(statement);
    });
    report({ phase: 'indexing', copied });
  }

  // 3. Catch up and swap.
  const swap = await locked(async (tx) => {
    const begun = performance.now();
    await tx.query(`LOCK TABLE ${s}.events IN ACCESS EXCLUSIVE MODE`);
    await tx.query(`SET LOCAL ${ALLOW_EVENT_MUTATION_SETTING} = 'on'`);
    // No event writer is left (they hold a lock on the table): copy everything after the cursor.
    const [rest] = await tx.query<{ n: string | number }>(
      `WITH c AS (SELECT cursor_tx, cursor_position FROM ${s}.partition_conversion),
            ins AS (INSERT INTO ${s}.${NEW_TABLE} (${EVENT_COLUMNS})
                    SELECT ${EVENT_COLUMNS} FROM ${s}.events AS e, c
                     WHERE (e.transaction_id, e.global_position) > (c.cursor_tx, c.cursor_position)
                    RETURNING 1)
       SELECT count(*) AS n FROM ins`,
    );
    await tx.query(
      `UPDATE ${s}.${NEW_TABLE} AS e SET archived = true
         FROM ${s}.streams AS st
        WHERE st.archived_at IS NOT NULL AND e.stream_id = st.stream_id AND NOT e.archived`,
    );
    // Renamed, not dropped: dropping it would drop the position sequence it owns, and moving the
    // sequence here would deadlock with an append that took positions and waits for this lock.
    await tx.query(`ALTER TABLE ${s}.events RENAME TO ${OLD_TABLE}`);
    // Index names are unique in the schema: the old ones (and their keys) make way.
    await tx.query(`DO $do$ DECLARE r record; BEGIN
      FOR r IN SELECT c.relname FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
                WHERE i.indrelid = '${s}.${OLD_TABLE}'::regclass LOOP
        EXECUTE format('ALTER INDEX ${s}.%I RENAME TO %I', r.relname, 'old_' || r.relname);
      END LOOP;
    END $do$`);
    for (const statement of renamesSql(schema)) await tx.query(statement);
    return { caughtUp: Number(rest?.n ?? 0), swapMs: Math.round(performance.now() - begun) };
  });
  await locked((tx) => dropOldTable(tx, schema));
  const result = { phase: 'swapped', copied: copied + swap.caughtUp, ...swap } as const;
  report(result);
  return result;
}

/**
 * One batch: the next `$1` events of the gap-safe prefix after the cursor, in log order, copied,
 * and the cursor moved past them, in one statement. Answers how many were copied (`n`) and the
 * running total.
 */
function copyBatchSql(schema: string): string {
  const s = quoted(schema);
  return `
WITH c AS (SELECT cursor_tx, cursor_position FROM ${s}.partition_conversion),
batch AS MATERIALIZED (
  SELECT e.* FROM ${s}.events AS e, c
   WHERE (e.transaction_id, e.global_position) > (c.cursor_tx, c.cursor_position)
     AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
   ORDER BY e.transaction_id, e.global_position
   LIMIT $1
),
ins AS (
  INSERT INTO ${s}.${NEW_TABLE} (${EVENT_COLUMNS}) SELECT ${EVENT_COLUMNS} FROM batch
),
last AS (
  SELECT transaction_id, global_position FROM batch
   ORDER BY transaction_id DESC, global_position DESC LIMIT 1
)
UPDATE ${s}.partition_conversion AS p
   SET cursor_tx = coalesce((SELECT transaction_id FROM last), p.cursor_tx),
       cursor_position = coalesce((SELECT global_position FROM last), p.cursor_position),
       copied = p.copied + (SELECT count(*) FROM batch)
RETURNING (SELECT count(*) FROM batch) AS n, p.copied`;
}

/** Gives the new table, its partitions, keys, indexes and triggers the names of the old ones. */
function renamesSql(schema: string): string[] {
  const s = quoted(schema);
  const statements = [
    `ALTER TABLE ${s}.${NEW_TABLE} RENAME TO events`,
    `ALTER TABLE ${s}.${NEW_TABLE}_hot RENAME TO events_hot`,
    `ALTER TABLE ${s}.${NEW_TABLE}_archived RENAME TO events_archived`,
  ];
  for (const part of ['pkey', 'stream_version_key', 'event_id_key', 'encoding_check']) {
    statements.push(
      `ALTER TABLE ${s}.events RENAME CONSTRAINT ${NEW_TABLE}_${part} TO events_${part}`,
    );
  }
  for (const part of ['log_idx', 'correlation_id_idx', 'causation_id_idx', 'type_position_idx']) {
    statements.push(`ALTER INDEX ${s}.${NEW_TABLE}_${part} RENAME TO events_${part}`);
  }
  for (const part of ['', '_hot', '_archived']) {
    statements.push(
      `ALTER TRIGGER ${NEW_TABLE}${part}_immutable ON ${s}.events${part} RENAME TO events${part}_immutable`,
    );
  }
  return statements;
}

async function isPartitioned(tx: SqlQueryable, schema: string): Promise<boolean> {
  const [row] = await tx.query<{ relkind: string | null }>(
    `SELECT (SELECT c.relkind FROM pg_class AS c WHERE c.oid = to_regclass($1))::text AS relkind`,
    [`${quoted(schema)}.events`],
  );
  return row?.relkind === 'p';
}

async function exists(tx: SqlQueryable, name: string): Promise<boolean> {
  const [row] = await tx.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [
    name,
  ]);
  return row?.found === true;
}
