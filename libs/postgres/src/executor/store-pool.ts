import { Pool } from 'pg';
import type { ResolvedPostgresOptions } from '../postgres.options';

/**
 * A `pg` pool with the store's connection settings: its size, a connect timeout, the statement
 * timeout (as a startup parameter, except behind a transaction-mode pooler, which refuses it: the
 * role's setting applies there), a client-side backstop so that a socket that silently died never
 * hangs a call forever, and keep-alive. An idle connection that breaks (a server restart) is
 * reported on the pool; the listener keeps it from crashing the process, and the next call gets a
 * fresh connection or a `StoreUnavailableError`.
 *
 * JIT compilation is off on the store's connections ({@link STORE_SESSION_OPTIONS}).
 */
/**
 * Startup options of the store's own connections: `jit=off`. The store's statements are short
 * index lookups, but a prepared statement's generic plan estimates a stream's rows from the
 * table's average (`rows / distinct streams`), so on a large log with long streams a read of a
 * few streams is estimated at thousands of rows, crosses `jit_above_cost`, and PostgreSQL compiled
 * it on every execution: 0.63 s of JIT for a 34 ms read of two streams. On the scale bench's
 * 1,000,000-event level, transfers (16 clients) went from 49–66/s to 378/s with JIT off, single
 * deposits from 491–755/s to 1,180/s. The append functions already set `jit = off`
 * themselves. Behind a transaction-mode pooler startup options are refused: set it for the role
 * there (`ALTER ROLE … SET jit = off`).
 */
export const STORE_SESSION_OPTIONS = '-c jit=off';

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
    options: resolved.pooler === 'transaction' ? undefined : STORE_SESSION_OPTIONS,
    query_timeout: resolved.statementTimeoutMs + resolved.connectTimeoutMs,
    keepAlive: true,
    application_name: applicationName,
  });
  pool.on('error', () => undefined);
  return pool;
}
