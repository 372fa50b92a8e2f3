import type { PGliteInterface } from '@electric-sql/pglite';
import type { PoolStats, SqlExecutor, SqlQueryable, SqlRow } from './sql-executor';

/**
 * A {@link SqlExecutor} over an embedded PGlite database: the same SQL as on a server, in process.
 * PGlite has one connection and runs one statement at a time; `transaction` holds it exclusively.
 */
export class PGliteSqlExecutor implements SqlExecutor {
  constructor(
    private readonly db: PGliteInterface,
    private readonly ownsDb: boolean,
  ) {}

  async query<R = SqlRow>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.db.query<R>(text, params as unknown[])).rows;
  }

  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) =>
      work({
        query: async <R>(text: string, params: readonly unknown[] = []) =>
          (await tx.query<R>(text, params as unknown[])).rows,
      }),
    );
  }

  stats(): PoolStats {
    return { total: 1, idle: 1, waiting: 0 };
  }

  async close(): Promise<void> {
    if (this.ownsDb && !this.db.closed) await this.db.close();
  }
}
