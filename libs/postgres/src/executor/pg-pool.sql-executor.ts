import { InvalidOptionsError } from '@eventcore/core';
import type { Pool, PoolClient } from 'pg';
import { describeFailure, isConnectionFailure } from './connection-errors';
import {
  type PoolStats,
  type QueryOptions,
  SqlConnectionError,
  type SqlExecutor,
  type SqlQueryable,
  type SqlRow,
} from './sql-executor';

/**
 * A {@link SqlExecutor} over a `pg` pool. Acquiring the connection and running the statement are
 * separate steps so that a failure says whether the statement could have run (see
 * {@link SqlConnectionError.phase}); a connection that broke is destroyed, not returned to the pool.
 */
export class PgPoolSqlExecutor implements SqlExecutor {
  constructor(
    private readonly pool: Pool,
    private readonly ownsPool: boolean,
  ) {}

  async query<R = SqlRow>(
    text: string,
    params: readonly unknown[] = [],
    options: QueryOptions = {},
  ): Promise<R[]> {
    const client = await this.acquire();
    let broken: Error | undefined;
    try {
      return await run<R>(client, text, params, options);
    } catch (error) {
      if (error instanceof SqlConnectionError) broken = error;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    let broken: Error | undefined;
    const tx: SqlQueryable = {
      query: (text, params = [], options = {}) => run(client, text, params, options),
    };
    try {
      await run(client, 'BEGIN', [], {});
      const result = await work(tx);
      await run(client, 'COMMIT', [], {});
      return result;
    } catch (error) {
      if (error instanceof SqlConnectionError) broken = error;
      else await run(client, 'ROLLBACK', [], {}).catch((e: Error) => (broken = e));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async notify(channel: string, payload: string): Promise<void> {
    // Simple protocol (no parameters), so the four statements travel in one round trip; SET LOCAL
    // leaves the pooled session as it was.
    await this.query(
      `BEGIN; SET LOCAL synchronous_commit TO off; NOTIFY "${channel}", '${payload.replaceAll("'", "''")}'; COMMIT`,
    );
  }

  stats(): PoolStats {
    return {
      total: this.pool.totalCount,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
    };
  }

  async close(): Promise<void> {
    if (this.ownsPool && !this.pool.ended) await this.pool.end();
  }

  private async acquire(): Promise<PoolClient> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw new SqlConnectionError(describeFailure(error), 'connect', { cause: error });
    }
    // A connection already inside a transaction is someone else's: our BEGIN/COMMIT (a NOTIFY, a
    // checkpoint) would commit it early, and an append in it could take positions out of log order.
    const status = client.getTransactionStatus?.();
    if (status === 'T' || status === 'E') {
      client.release(new Error('handed out inside an open transaction'));
      throw new InvalidOptionsError(
        'pool',
        'it handed out a connection inside an open transaction; the store runs transactions of its own and would end yours. Give the store a pg Pool of its own, and append inside your transaction with store.appendInTransaction(client, writes)',
      );
    }
    return client;
  }
}

async function run<R>(
  client: PoolClient,
  text: string,
  params: readonly unknown[],
  options: QueryOptions,
): Promise<R[]> {
  try {
    const values = params as unknown[];
    const result = await client.query(
      options.name === undefined ? { text, values } : { name: options.name, text, values },
    );
    return result.rows as R[];
  } catch (error) {
    if (isConnectionFailure(error)) {
      throw new SqlConnectionError(describeFailure(error), 'query', { cause: error });
    }
    throw error;
  }
}
