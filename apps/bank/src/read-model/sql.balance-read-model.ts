import type { RecordedEvent } from '@eventcore/core';
import type { SqlQueryable } from '@eventcore/postgres';
import {
  type AccountBalance,
  accountIdOf,
  balanceChange,
  type BalanceReadModel,
  openedBy,
} from './balance-read-model';

/**
 * Balances in PostgreSQL tables `bank.account_balances (account_id, owner, balance, version)` and
 * `bank.bank_totals`, written only through the checkpoint store's transaction: each event's change
 * commits with the projection's checkpoint, exactly once, so no idempotency check is needed.
 */
export class SqlBalanceReadModel implements BalanceReadModel {
  /** `db` serves the reads; the projection's `setup` creates the tables (see {@link setup}). */
  constructor(private readonly db: SqlQueryable) {}

  /**
   * Creates the tables if needed. The projection runs this as its `setup` step: under the
   * projection's lock (one instance at a time) and in the checkpoint store's transaction, before
   * its first batch and again after a rebuild's reset.
   */
  async setup(tx: unknown): Promise<void> {
    await createTables(tx as SqlQueryable);
  }

  /**
   * Two statements per batch, whatever its size: the changes are summed per account first, then
   * upserted together, and the total moves once.
   */
  async applyBatch(events: readonly RecordedEvent[], tx: unknown): Promise<void> {
    const sql = tx as SqlQueryable;
    const accounts = new Map<string, { owner: string; change: number; version: number }>();
    let totalChange = 0;
    for (const event of events) {
      const id = accountIdOf(event);
      const row = accounts.get(id) ?? { owner: '', change: 0, version: 0 };
      const change = balanceChange(event);
      row.owner = openedBy(event) ?? row.owner;
      row.change += change;
      row.version = Math.max(row.version, event.streamVersion);
      accounts.set(id, row);
      totalChange += change;
    }
    if (accounts.size === 0) return;
    const rows = [...accounts];
    // An empty owner means "not opened in this batch": owners are 1–100 characters.
    await sql.query(
      `INSERT INTO bank.account_balances AS a (account_id, owner, balance, version)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
       ON CONFLICT (account_id) DO UPDATE
         SET owner = CASE WHEN EXCLUDED.owner = '' THEN a.owner ELSE EXCLUDED.owner END,
             balance = a.balance + EXCLUDED.balance,
             version = EXCLUDED.version`,
      [
        rows.map(([id]) => id),
        rows.map(([, r]) => r.owner),
        rows.map(([, r]) => r.change),
        rows.map(([, r]) => r.version),
      ],
    );
    if (totalChange !== 0) {
      await sql.query('UPDATE bank.bank_totals SET total = total + $1', [totalChange]);
    }
  }

  async reset(tx: unknown): Promise<void> {
    const sql = tx as SqlQueryable;
    await sql.query('TRUNCATE bank.account_balances');
    await sql.query('UPDATE bank.bank_totals SET total = 0');
  }

  async list(): Promise<AccountBalance[]> {
    const rows = await beforeSetup(
      this.db.query<{ account_id: string; owner: string; balance: string }>(
        'SELECT account_id, owner, balance FROM bank.account_balances ORDER BY account_id COLLATE "C"',
      ),
      [],
    );
    return rows.map((r) => ({ id: r.account_id, owner: r.owner, balance: Number(r.balance) }));
  }

  async total(): Promise<number> {
    const [row] = await beforeSetup(
      this.db.query<{ total: string }>('SELECT total FROM bank.bank_totals'),
      [],
    );
    return Number(row?.total ?? 0);
  }
}

/**
 * A read that may come before the projection's first setup on a new database: the tables do not
 * exist yet (SQLSTATE 42P01, undefined_table), which means nothing has been projected: `empty`.
 */
async function beforeSetup<T>(rows: Promise<T>, empty: T): Promise<T> {
  try {
    return await rows;
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === '42P01') return empty;
    throw error;
  }
}

async function createTables(db: SqlQueryable): Promise<void> {
  await db.query('CREATE SCHEMA IF NOT EXISTS bank');
  await db.query(`CREATE TABLE IF NOT EXISTS bank.account_balances (
    account_id text PRIMARY KEY,
    owner text NOT NULL,
    balance bigint NOT NULL,
    version bigint NOT NULL)`);
  // One row: the sum of every balance, kept beside them so reading it costs nothing.
  await db.query(`CREATE TABLE IF NOT EXISTS bank.bank_totals (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    total bigint NOT NULL)`);
  await db.query('INSERT INTO bank.bank_totals (total) VALUES (0) ON CONFLICT (id) DO NOTHING');
}
