import { InvalidOptionsError, UnsupportedTransactionError } from '@eventcore/core';
import type { SqlQueryable, SqlRow } from './executor/sql-executor';

/**
 * A `pg` client (a `PoolClient` or `Client`) on which the application has sent `BEGIN`. Only its
 * `query` and `getTransactionStatus` are used.
 */
export interface PgTransactionClient {
  /** Sends one statement (unnamed: never a prepared statement of ours). */
  query(config: { text: string; values?: unknown[] }): Promise<{ rows: unknown[] }>;
  /** `'T'` inside a transaction block, `'I'` outside one, `'E'` in a failed one (pg ≥ 8.12). */
  getTransactionStatus(): string | null;
}

/** A TypeORM `QueryRunner` (`dataSource.createQueryRunner()`) after `startTransaction()`. */
export interface TypeOrmQueryRunner {
  /** True between `startTransaction()` and its commit or rollback. */
  readonly isTransactionActive: boolean;
  /** True after `release()`: its connection went back to the pool. */
  readonly isReleased: boolean;
  /** Sends one statement; called with `useStructuredResult`, whose `records` are the rows. */
  query(query: string, parameters?: unknown[], useStructuredResult?: boolean): Promise<unknown>;
}

/**
 * A TypeORM `EntityManager` of a transaction: the one `dataSource.transaction(async (manager) => …)`
 * hands you, or `queryRunner.manager`. The plain `dataSource.manager` has no transaction.
 */
export interface TypeOrmEntityManager {
  /** The transaction's runner; absent on `dataSource.manager`. */
  readonly queryRunner?: TypeOrmQueryRunner;
  /** Present on every EntityManager: how one is told apart from a runner or a client. */
  transaction(...args: never[]): unknown;
}

/** A transaction the application holds, which `PostgresEventStore.appendInTransaction` joins. */
export type CallerTransaction = PgTransactionClient | TypeOrmQueryRunner | TypeOrmEntityManager;

/**
 * The caller's connection as a {@link SqlQueryable} that runs every statement inside the open
 * transaction, unnamed (its connection may sit behind a pooler, and is not ours to prepare on).
 * It only ever sends what it is given: never BEGIN, COMMIT or ROLLBACK.
 * @throws UnsupportedTransactionError when no transaction is open, or it has failed.
 * @throws InvalidOptionsError for something that is none of the three.
 */
export function callerQueryable(transaction: CallerTransaction): SqlQueryable {
  const candidate = transaction as unknown as Record<string, unknown> | null;
  if (typeof candidate !== 'object' || candidate === null) return notATransaction();
  if (typeof candidate.getTransactionStatus === 'function') {
    const client = transaction as PgTransactionClient;
    const status = client.getTransactionStatus();
    if (status === 'E') throw new UnsupportedTransactionError('aborted');
    if (status !== 'T') throw new UnsupportedTransactionError('no-transaction');
    return {
      async query<R = SqlRow>(text: string, params: readonly unknown[] = []) {
        const result = await client.query({ text, values: [...params] });
        return result.rows as R[];
      },
    };
  }
  if (typeof candidate.isTransactionActive === 'boolean' && typeof candidate.query === 'function') {
    return queryRunnerQueryable(transaction as TypeOrmQueryRunner);
  }
  // An EntityManager: the data source's own has no `queryRunner` (each query on any connection).
  if (typeof candidate.transaction === 'function') {
    const runner = (transaction as TypeOrmEntityManager).queryRunner;
    if (runner === undefined) throw new UnsupportedTransactionError('no-transaction');
    return queryRunnerQueryable(runner);
  }
  return notATransaction();
}

function queryRunnerQueryable(runner: TypeOrmQueryRunner): SqlQueryable {
  if (runner.isReleased || !runner.isTransactionActive) {
    throw new UnsupportedTransactionError('no-transaction');
  }
  return {
    async query<R = SqlRow>(text: string, params: readonly unknown[] = []) {
      // The structured result always carries the rows as `records` (the plain one varies by command).
      const result = (await runner.query(text, [...params], true)) as { records?: unknown[] };
      return (result.records ?? []) as R[];
    },
  };
}

function notATransaction(): never {
  throw new InvalidOptionsError(
    'caller transaction',
    'pass a pg client on which you sent BEGIN, a TypeORM QueryRunner after startTransaction(), or the EntityManager of a TypeORM transaction',
  );
}
