import { StoreUnavailableError } from '@eventcore/core';
import type { SqlQueryable } from '../executor/sql-executor';
import { quoted } from './schema-name';

const EPOCH = 2n ** 32n;

/**
 * Refuses a database whose stored events carry transaction ids at or beyond the cluster's next
 * one. That only happens after a logical restore (pg_dump) into a new cluster: the log's cursor
 * would then hide every stored event and sort new ones before them, so subscribers would skip
 * events silently. The fix is the epoch step of "Logical backups" in docs/operations.md.
 * @throws StoreUnavailableError naming the epoch to pass to `pg_resetwal --epoch`.
 */
export async function checkTransactionIds(db: SqlQueryable, schema: string): Promise<void> {
  const [table] = await db.query<{ exists: boolean }>(
    'SELECT to_regclass($1) IS NOT NULL AS exists',
    [`${quoted(schema)}.events`],
  );
  if (table?.exists !== true) return; // not migrated yet: nothing stored to check
  const [row] = await db.query<{ newest: string | null; next: string }>(
    `SELECT (SELECT max(transaction_id) FROM ${quoted(schema)}.events)::text AS newest,
            pg_snapshot_xmax(pg_current_snapshot())::text AS next`,
  );
  if (row === undefined || row.newest === null) return;
  const newest = BigInt(row.newest);
  if (newest < BigInt(row.next)) return;
  const epoch = newest / EPOCH + 1n;
  throw new StoreUnavailableError(
    `its events were written by transaction ids up to ${newest}, but this cluster's next id is ${row.next}: ` +
      `it was restored from a logical backup into a new cluster. Stop the server, run ` +
      `\`pg_resetwal --epoch=${epoch} $PGDATA\`, start it again (see "Logical backups" in docs/operations.md)`,
  );
}
