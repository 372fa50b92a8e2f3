import type { OldestWriteTransaction } from '@eventcore/core';
import type { SqlQueryable } from '../executor/sql-executor';
import { quoted } from '../schema/schema-name';
import { OLDEST_WRITE_TRANSACTION_SQL } from './inspection.sql';

/** The columns of {@link OLDEST_WRITE_TRANSACTION_SQL}, as other statements may also select them. */
interface OldestWriteTransactionRow {
  privileged: boolean;
  pid: number | null;
  datname: string | null;
  application_name: string | null;
  state: string | null;
  age_seconds: string | number | null;
  query_start: string | null;
}

/**
 * How long the gap-safe prefix of the log has been holding subscribers back, and by whom: what
 * `PostgresEventStore.logHoldBack` answers.
 */
export interface LogHoldBack {
  /**
   * Seconds since the first event that has committed but is not yet readable by subscribers (an
   * older write transaction, anywhere on the server, is still open) was recorded; 0 when no
   * committed event waits. Needs no privilege: it is read from the events table.
   */
  readonly heldBackSeconds: number;
  /**
   * The oldest open write transaction on the server — the one that holds the prefix back when
   * `heldBackSeconds` is above 0. "Unknown" (`known: false`) when this role cannot see other
   * sessions (grant it `pg_monitor`).
   */
  readonly blocking: OldestWriteTransaction;
}

/** What a role without `pg_read_all_stats` is told instead of a transaction it cannot see. */
const UNPRIVILEGED_REASON =
  "this database role cannot see other sessions' transactions: grant it pg_monitor (or pg_read_all_stats)";

/**
 * Decodes a row of {@link OLDEST_WRITE_TRANSACTION_SQL}: "unknown" (never "none", never 0 s) when
 * the role cannot see other sessions, else the transaction, or null when no write transaction is
 * open. The one decoding of that row, shared by the inspection, the DCB read's `LogHeldBackError`
 * and the store's hold-back report.
 */
function oldestWriteTransactionOf(
  row: OldestWriteTransactionRow | undefined,
): OldestWriteTransaction {
  if (row === undefined || !row.privileged) return { known: false, reason: UNPRIVILEGED_REASON };
  if (row.pid === null) return { known: true, transaction: null };
  return {
    known: true,
    transaction: {
      pid: Number(row.pid),
      database: row.datname,
      applicationName: row.application_name,
      state: row.state,
      ageSeconds: Number(row.age_seconds ?? 0),
      queryStart: row.query_start,
    },
  };
}

/**
 * The oldest open write transaction on the server (any database): what holds back the gap-safe
 * prefix of the log, as far as this role can see.
 */
export async function readOldestWriteTransaction(
  db: SqlQueryable,
): Promise<OldestWriteTransaction> {
  const [row] = await db.query<OldestWriteTransactionRow>(OLDEST_WRITE_TRANSACTION_SQL);
  return oldestWriteTransactionOf(row);
}

/**
 * {@link OLDEST_WRITE_TRANSACTION_SQL} plus `held_seconds`: the age of the first committed event
 * beyond the gap-safe prefix (the bound `readAllSql` uses), in log order — one probe of
 * `events_log_idx` from the bound, however many events wait. NULL when none does. Its recording
 * time (its transaction's start) approximates when it started to wait, from above by the length
 * of that transaction.
 */
export function logHoldBackSql(schema: string): string {
  return `
SELECT o.*, h.held_seconds
  FROM (${OLDEST_WRITE_TRANSACTION_SQL}) AS o
  LEFT JOIN LATERAL (
    SELECT greatest(extract(epoch FROM clock_timestamp() - e.recorded_at), 0) AS held_seconds
      FROM ${quoted(schema)}.events AS e
     WHERE e.transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.transaction_id, e.global_position
     LIMIT 1) AS h ON true`;
}

/** Runs {@link logHoldBackSql} (one statement, so one snapshot for both answers). */
export async function readLogHoldBack(db: SqlQueryable, sql: string): Promise<LogHoldBack> {
  const [row] = await db.query<
    OldestWriteTransactionRow & { held_seconds: string | number | null }
  >(sql);
  return {
    heldBackSeconds: Number(row?.held_seconds ?? 0),
    blocking: oldestWriteTransactionOf(row),
  };
}
