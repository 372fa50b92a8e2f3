import { Pool } from 'pg';
import type { ResolvedPostgresOptions } from '../postgres.options';

/**
 * A `pg` pool with the store's connection settings: its size, a connect timeout, the statement
 * timeout (as a startup parameter, except behind a transaction-mode pooler, which refuses it: the
 * role's setting applies there), a client-side backstop so that a socket that silently died never
 * hangs a call forever, and keep-alive. An idle connection that breaks (a server restart) is
 * reported on the pool; the listener keeps it from crashing the process, and the next call gets a
 * fresh connection or a `StoreUnavailableError`.
 */
export function createStorePool(
  connectionString: string | undefined,
  resolved: ResolvedPostgresOptions,
  applicationName: string,
): Pool {
  const pool = new Pool({
    connectionString,
    max: resolved.poolSize,
    connectionTimeoutMillis: resolved.connectTimeoutMs,
    statement_timeout: resolved.pooler === 'transaction' ? undefined : resolved.statementTimeoutMs,
    query_timeout: resolved.statementTimeoutMs + resolved.connectTimeoutMs,
    keepAlive: true,
    application_name: applicationName,
  });
  pool.on('error', () => undefined);
  return pool;
}
