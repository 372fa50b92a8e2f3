import type { AppendBatchingOptions } from './append-batcher';
import type { ReadBatchingOptions } from './read-batcher';

import { InvalidOptionsError, type RetryOptions } from '@eventcore/core';
import {
  type ResolvedRetryOptions,
  resolveRetryOptions,
  type RetryUse,
} from '@eventcore/core/adapter';
import type { Pool } from 'pg';
import type { ResolvedCircuitBreakerOptions } from './executor/circuit-breaker';

/** The circuit breaker that makes calls fail fast while the database is down. */
export interface CircuitBreakerOptions {
  /** Consecutive connection failures that open the circuit. @default 5 */
  readonly failureThreshold?: number;
  /** How long calls fail fast before one trial call goes through. @default 5000 */
  readonly cooldownMs?: number;
}

/** Options of `createPostgresEventStore`. Give `connectionString` or `pool`. */
export interface PostgresEventStoreOptions {
  /** e.g. `postgres://user:pass@host:5432/db`. The store opens a pool and closes it on `close()`. */
  readonly connectionString?: string;
  /**
   * A pool you own: the store uses it and never ends it. Pool size and timeouts are then yours to
   * set (`connectionTimeoutMillis`, `statement_timeout`).
   */
  readonly pool?: Pool;
  /** Schema of the store's tables. @default 'eventcore' */
  readonly schema?: string;
  /** Most connections of the pool the store opens. @default 10 */
  readonly poolSize?: number;
  /** Server-side limit of one statement (`statement_timeout`). @default 30000 */
  readonly statementTimeoutMs?: number;
  /** Limit of opening a connection (and of waiting for a free one). @default 5000 */
  readonly connectTimeoutMs?: number;
  /**
   * Retry of transient connection failures (never of conflicts or other database answers): reads
   * whenever the connection failed, writes only when the statement was certainly not sent.
   * `false` disables it. `timeoutMs` does not apply: `connectTimeoutMs` bounds each attempt.
   * @default { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 2000, backoffFactor: 2, jitter: 0.5 }
   */
  readonly retry?: Omit<RetryOptions, 'timeoutMs'> | false;
  /** `false` disables the breaker. @default { failureThreshold: 5, cooldownMs: 5000 } */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  /** Run `migrate()` before returning the store. @default true */
  readonly migrate?: boolean;
  /** Use named prepared statements for the hot queries. @default true, false with `pooler: 'transaction'` */
  readonly preparedStatements?: boolean;
  /**
   * What sits between the store and PostgreSQL. `'transaction'`: a transaction-mode pooler
   * (PgBouncer `pool_mode = transaction`), which hands every transaction a different server
   * session, so nothing may live in a session: the store prepares no named statements and sends
   * no `statement_timeout` startup parameter (PgBouncer refuses unknown ones; set the timeout on
   * the role instead: `ALTER ROLE app SET statement_timeout = '30s'`), and `createPostgresStorage`
   * elects projections with a lease row and lets them poll instead of LISTEN. `'none'`: a direct
   * connection or a session-mode pooler. See "Connection poolers" in docs/operations.md.
   * @default 'none'
   */
  readonly pooler?: PoolerMode;
  /**
   * When the NOTIFY that wakes subscribers is sent: just after each append commits, coalesced, from
   * a transaction that does not wait for a flush; or inside every append (which serialises
   * notifying commits on PostgreSQL's notification lock: much slower under concurrency).
   * @default 'after-commit'
   */
  readonly notify?: 'after-commit' | 'in-transaction';
  /**
   * How appends of concurrent commands share round trips: while `maxInFlight` batches are on the
   * wire, appends queue and leave together in the next one (one transaction, each append still
   * succeeding or conflicting on its own). `false` sends every append on its own.
   * @default { maxInFlight: 2, maxAppends: 64, maxEvents: 10000 }
   */
  readonly appendBatching?: AppendBatchingOptions | false;
  /**
   * How stream reads of concurrent commands share queries: while `maxInFlight` reads are on the
   * wire, reads queue and the next query serves them all (one snapshot). `false`: each read alone.
   * @default { maxInFlight: 2 }
   */
  readonly readBatching?: ReadBatchingOptions | false;
  /**
   * How long a DCB `read` waits, in milliseconds, when events matching its query have committed
   * beyond the gap-safe prefix of the log (an older write transaction, anywhere on the server, is
   * still open), before it fails with `LogHeldBackError` naming that transaction. 0 fails at once.
   * @default 5000
   */
  readonly heldBackWaitMs?: number;
}

/** How the store reaches PostgreSQL: directly (or through a session-mode pooler), or through a transaction-mode pooler. */
export type PoolerMode = 'none' | 'transaction';

/** Options of `createPGliteEventStore`. */
export interface PGliteEventStoreOptions {
  /** Folder of a durable database; omit for an in-memory one. Ignored when `db` is given. @default in memory */
  readonly dataDir?: string;
  /**
   * A PGlite instance you own: the store uses it and never closes it. On disk, the instance
   * becomes its folder's only owner until you close it (open it with `openPGlite` to lock first).
   */
  readonly db?: import('@electric-sql/pglite').PGliteInterface;
  /** @default 'eventcore' */
  readonly schema?: string;
  /** @default true */
  readonly migrate?: boolean;
}

/** Resolved connection settings of the server store. */
export interface ResolvedPostgresOptions {
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly pooler: PoolerMode;
  /** Whether to name the hot statements (never behind a transaction-mode pooler). */
  readonly preparedStatements: boolean;
  readonly retry: ResolvedRetryOptions;
  readonly circuitBreaker: ResolvedCircuitBreakerOptions | false;
}

/** The store's retry of transient connection failures. */
const CONNECTION_RETRY: RetryUse = {
  field: 'retry',
  timeout: false,
  // Half jitter: spreads the reconnects of many callers and keeps a floor under each wait.
  defaults: {
    maxAttempts: 3,
    initialDelayMs: 100,
    maxDelayMs: 2000,
    backoffFactor: 2,
    jitter: 0.5,
    timeoutMs: Number.POSITIVE_INFINITY,
  },
};
const DEFAULT_BREAKER: ResolvedCircuitBreakerOptions = { failureThreshold: 5, cooldownMs: 5000 };

/**
 * The retry of transient connection failures: `false` (or, with `absent: 'off'`, nothing) gives a
 * single attempt.
 * @throws InvalidOptionsError naming the field.
 */
export function resolveConnectionRetry(
  retry: Omit<RetryOptions, 'timeoutMs'> | false | undefined,
  absent: 'defaults' | 'off',
): ResolvedRetryOptions {
  if (retry === false || (retry === undefined && absent === 'off')) {
    return { ...CONNECTION_RETRY.defaults, maxAttempts: 1 };
  }
  return resolveRetryOptions(CONNECTION_RETRY, retry);
}

/**
 * The circuit breaker, or `false` when disabled (by `false`, or, with `absent: 'off'`, by nothing).
 * @throws InvalidOptionsError naming the field.
 */
export function resolveCircuitBreaker(
  options: CircuitBreakerOptions | false | undefined,
  absent: 'defaults' | 'off',
): ResolvedCircuitBreakerOptions | false {
  if (options === false || (options === undefined && absent === 'off')) return false;
  const breaker = { ...DEFAULT_BREAKER, ...definedOnly(options) };
  integer('circuitBreaker.failureThreshold', breaker.failureThreshold, 1, 1_000_000);
  integer('circuitBreaker.cooldownMs', breaker.cooldownMs, 1, 3_600_000);
  return breaker;
}

/**
 * The DCB read's wait for a held-back log (see `PostgresEventStoreOptions.heldBackWaitMs`).
 * @throws InvalidOptionsError
 */
export function resolveHeldBackWait(value: number | undefined): number {
  return integer('heldBackWaitMs', value ?? 5_000, 0, 600_000);
}

/**
 * Validates options and fills in defaults.
 * @throws InvalidOptionsError naming the field.
 */
export function resolvePostgresOptions(
  options: PostgresEventStoreOptions,
): ResolvedPostgresOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionsError(
      'Postgres event store options',
      'pass an object with connectionString or pool',
    );
  }
  const hasUrl = options.connectionString !== undefined;
  const hasPool = options.pool !== undefined;
  if (hasUrl === hasPool) {
    throw new InvalidOptionsError(
      'Postgres event store options',
      'give exactly one of connectionString and pool',
    );
  }
  if (
    hasUrl &&
    (typeof options.connectionString !== 'string' || options.connectionString.trim() === '')
  ) {
    throw new InvalidOptionsError('connectionString', 'use a non-empty postgres:// URL');
  }
  if (hasPool && typeof (options.pool as { connect?: unknown }).connect !== 'function') {
    throw new InvalidOptionsError('pool', 'pass a pg Pool');
  }
  const retry = resolveConnectionRetry(options.retry, 'defaults');
  const breaker = resolveCircuitBreaker(options.circuitBreaker, 'defaults');
  const pooler = resolvePooler(options.pooler);
  if (pooler === 'transaction' && options.preparedStatements === true) {
    throw new InvalidOptionsError(
      'preparedStatements',
      "a transaction-mode pooler keeps no named prepared statements between transactions: leave preparedStatements out with pooler: 'transaction'",
    );
  }
  return {
    pooler,
    preparedStatements: pooler === 'none' && options.preparedStatements !== false,
    poolSize: integer('poolSize', options.poolSize ?? 10, 1, 1000),
    statementTimeoutMs: integer(
      'statementTimeoutMs',
      options.statementTimeoutMs ?? 30_000,
      1,
      86_400_000,
    ),
    connectTimeoutMs: integer('connectTimeoutMs', options.connectTimeoutMs ?? 5_000, 1, 600_000),
    retry,
    circuitBreaker: breaker,
  };
}

/**
 * The `pooler` option (see {@link PostgresEventStoreOptions.pooler}).
 * @throws InvalidOptionsError for anything but 'none', 'transaction' or nothing.
 */
export function resolvePooler(value: unknown): PoolerMode {
  if (value === undefined || value === 'none' || value === 'transaction') return value ?? 'none';
  throw new InvalidOptionsError(
    'pooler',
    `use 'transaction' behind a transaction-mode pooler (PgBouncer pool_mode = transaction) or 'none', not ${JSON.stringify(value)}`,
  );
}

function integer(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidOptionsError(
      field,
      `use an integer from ${min} to ${max}, not ${String(value)}`,
    );
  }
  return value;
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionsError(
      'Postgres event store options',
      'circuitBreaker takes an object or false',
    );
  }
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
