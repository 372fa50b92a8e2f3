/** One row of a query result, keyed by column name. */
export type SqlRow = Record<string, unknown>;

/** Options of one query. */
export interface QueryOptions {
  /**
   * Name of a server-side prepared statement for a hot query; the text must never change under
   * one name. Executors that cannot prepare by name ignore it.
   */
  readonly name?: string;
}

/** Something that runs parameterised SQL: a pool, a single connection, or an embedded database. */
export interface SqlQueryable {
  /** Runs one parameterised statement (`$1`, `$2`, ...) and returns its rows. */
  query<R = SqlRow>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<R[]>;
}

/** Connections in use and waiting, for health reports. */
export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/**
 * The small SQL surface the PostgreSQL event store needs, so that the same SQL runs on a `pg`
 * pool and on an embedded PGlite database (and on fakes in unit tests).
 *
 * Implementations report a broken or unreachable connection with {@link SqlConnectionError} and
 * pass every other database error through unchanged.
 */
export interface SqlExecutor extends SqlQueryable {
  /** Runs `work` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  stats(): PoolStats;
  /**
   * Optional: sends `NOTIFY channel, payload` from a transaction of its own that does not wait for
   * its WAL flush (`synchronous_commit = off`), in one round trip. The store then notifies after
   * its appends commit instead of inside them. `channel` is a checked identifier.
   */
  notify?(channel: string, payload: string): Promise<void>;
  /** Releases what the executor opened (never a pool or database the caller passed in). */
  close(): Promise<void>;
}

/**
 * The database could not be reached or the connection broke. `phase` says whether the statement
 * had been sent: `connect` (it certainly was not executed) or `query` (it may have been).
 */
export class SqlConnectionError extends Error {
  constructor(
    message: string,
    readonly phase: 'connect' | 'query',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SqlConnectionError';
  }
}
