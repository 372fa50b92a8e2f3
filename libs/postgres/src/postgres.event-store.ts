import {
  ConcurrencyConflictError,
  EventCoreError,
  type AppendResult,
  type EventStore,
  InvalidAppendError,
  InvalidOptionsError,
  type Clock,
  type Position,
  type ReadAllFilter,
  type ReadAllOptions,
  type ReadAllPage,
  type ReadStreamsResult,
  type RecordedEvent,
  StoreClosedError,
  type StreamId,
  type RetryOptions,
  type StreamWrite,
} from '@eventcore/core';
import { findConflicts, validateWrites } from '@eventcore/core/adapter';
import { ConnectionGuard } from './executor/connection.guard';
import {
  type CircuitBreakerOptions,
  resolveCircuitBreaker,
  resolveConnectionRetry,
} from './postgres.options';
import { type PoolStats, SqlConnectionError, type SqlExecutor } from './executor/sql-executor';
import {
  comparePositions,
  decodePosition,
  encodePosition,
  type LogPosition,
  START,
} from './position';
import { appendBatchCallSql } from './schema/append.sql';
import { batchParams } from './sql/append-batch';
import {
  ReadBatcher,
  type ReadBatchingOptions,
  resolveReadBatching,
  type StreamsRead,
} from './read-batcher';
import {
  AppendBatcher,
  type AppendBatchingOptions,
  type BatchRow,
  resolveAppendBatching,
} from './append-batcher';
import { migrate } from './schema/migrate';
import { checkSchemaName, DEFAULT_SCHEMA, notificationChannel } from './schema/schema-name';
import { encodeAppend } from './sql/append-request';
import { type DedupedEventRow, RowDecoder } from './sql/event-row.mapper';
import { countAfterSql, headSql, healthSql, readAllSql, readStreamsSql } from './sql/read.sql';
import { checkTransactionIds } from './schema/transaction-id.check';

const MAX_PAGE = 10_000;
/** Rows a filtered page may scan before it ends early (see `readAllSql`). */
const MIN_SCAN = 1_000;
const MAX_SCAN = 100_000;

/**
 * Options of a {@link PostgresEventStore} built by hand over a {@link SqlExecutor}; the factories
 * (`createPostgresEventStore`, `createPGliteEventStore`) build it for you.
 */
export interface PostgresEventStoreConstructorOptions {
  /** @default 'eventcore' */
  readonly schema?: string;
  /**
   * Retry of transient connection failures, as in `PostgresEventStoreOptions.retry` (whose
   * defaults fill the fields left out). @default no retry
   */
  readonly retry?: Omit<RetryOptions, 'timeoutMs'> | false;
  /** As in `PostgresEventStoreOptions.circuitBreaker`. @default disabled */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  /** Use named prepared statements for the hot queries. @default true */
  readonly preparedStatements?: boolean;
  /**
   * When the NOTIFY that wakes subscribers is sent: `'after-commit'` (from a separate, coalesced
   * transaction; needs an executor that implements `notify`, else it falls back to the next) or
   * `'in-transaction'` (inside every append; serialises commits: see `appendFunctionSqlV3`).
   * @default 'after-commit'
   */
  readonly notify?: 'after-commit' | 'in-transaction';
  /**
   * How concurrent appends share round trips (see `AppendBatcher`); `false` sends every append on
   * its own. @default { maxInFlight: 2, maxAppends: 64, maxEvents: 10000 }
   */
  readonly appendBatching?: AppendBatchingOptions | false;
  /**
   * How stream reads of concurrent commands share queries (see `ReadBatcher`); `false` sends every
   * read on its own. @default { maxInFlight: 4 }
   */
  readonly readBatching?: ReadBatchingOptions | false;
  /** Time of the circuit breaker. @default the system clock */
  readonly clock?: Clock;
  /** Waits between retries. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Source of jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** What {@link PostgresEventStore.health} reports. */
export interface PostgresStoreHealth {
  /** Round trip of `SELECT 1`, in milliseconds. */
  readonly pingMs: number;
  readonly pool: PoolStats;
  /** Schema version recorded in `<schema>.schema_version`. */
  readonly schemaVersion: number | null;
  /**
   * Age of the oldest open transaction on the server (not idle), in seconds; 0 when none.
   * A long-open transaction that has written anything holds back `readAll`, hence subscribers.
   */
  readonly oldestTransactionAgeSeconds: number;
  /** Same, restricted to transactions that hold a transaction id (the ones that stall `readAll`). */
  readonly oldestWriteTransactionAgeSeconds: number;
  readonly circuit: 'closed' | 'open' | 'half-open' | 'disabled';
}

/**
 * The PostgreSQL event store, over any {@link SqlExecutor} (a `pg` pool or PGlite). Prefer the
 * factories `createPostgresEventStore` and `createPGliteEventStore`, which also migrate the schema.
 *
 * Appends are one call of the `append_events` function (one round trip); reads are single
 * statements. Connection failures surface as `StoreUnavailableError`.
 */
export class PostgresEventStore implements EventStore {
  /** The schema holding the store's tables. */
  readonly schema: string;
  private readonly guard: ConnectionGuard;
  private readonly batcher: AppendBatcher;
  private readonly reads: ReadBatcher;
  private readonly sql: {
    append: string;
    readStreams: string;
    readStream: string;
    head: string;
    readAll: string;
    countAfter: string;
    health: string;
  };
  private readonly names: {
    append?: string;
    readStreams?: string;
    readStream?: string;
    head?: string;
    readAll?: string;
  };
  private closed = false;
  private closing: Promise<void> | undefined;
  /** NOTIFY from a separate transaction after the append commits (see {@link announce}). */
  private readonly notifyAfterCommit: boolean;
  private readonly channel: string;
  private unannounced: LogPosition | undefined;
  private announcing: Promise<void> | undefined;
  /** The NOTIFY transaction on the wire, if any (see {@link readAll}). */
  private notifying: Promise<void> | undefined;

  constructor(
    private readonly executor: SqlExecutor,
    options: PostgresEventStoreConstructorOptions = {},
  ) {
    this.schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
    this.guard = new ConnectionGuard(
      resolveConnectionRetry(options.retry, 'off'),
      resolveCircuitBreaker(options.circuitBreaker, 'off'),
      { clock: options.clock, sleep: options.sleep, random: options.random },
    );
    this.sql = {
      append: appendBatchCallSql(this.schema),
      readStreams: readStreamsSql(this.schema),
      readStream: readStreamsSql(this.schema, true),
      head: headSql(this.schema),
      readAll: readAllSql(this.schema),
      countAfter: countAfterSql(this.schema),
      health: healthSql(this.schema),
    };
    this.channel = notificationChannel(this.schema);
    this.notifyAfterCommit =
      (options.notify ?? 'after-commit') === 'after-commit' && executor.notify !== undefined;
    this.names =
      options.preparedStatements === false
        ? {}
        : {
            append: `eventcore_append_batch_${this.schema}`,
            readStreams: `eventcore_read_streams_${this.schema}`,
            readStream: `eventcore_read_stream_${this.schema}`,
            head: `eventcore_head_${this.schema}`,
            readAll: `eventcore_read_all_${this.schema}`,
          };
    this.batcher = new AppendBatcher(
      (requests) =>
        this.guard.call('write', () =>
          this.executor.query<BatchRow>(
            this.sql.append,
            [...batchParams(requests), !this.notifyAfterCommit],
            { name: this.names.append },
          ),
        ),
      isStatementError,
      resolveAppendBatching(options.appendBatching),
    );
    this.reads = new ReadBatcher(
      (ids) => this.queryStreams(ids),
      resolveReadBatching(options.readBatching),
    );
  }

  async readStreams(streamIds: readonly StreamId[]): Promise<ReadStreamsResult> {
    this.assertOpen();
    return this.reads.submit([...new Set(streamIds)]);
  }

  /** One query for the events of `ids` (see {@link ReadBatcher}). */
  private async queryStreams(ids: readonly StreamId[]): Promise<StreamsRead> {
    const single = ids.length === 1;
    type Row = DedupedEventRow & { hx: string | null; hp: string | number | null };
    let rows = await this.guard.call('read', () =>
      this.executor.query<Row>(
        single ? this.sql.readStream : this.sql.readStreams,
        [single ? ids[0] : ids],
        { name: single ? this.names.readStream : this.names.readStreams },
      ),
    );
    const events = new Array<RecordedEvent>(rows.length);
    const decoder = new RowDecoder();
    for (let n = 0; n < rows.length; n++) events[n] = decoder.decode(rows[n]!);
    if (rows.length === 0) {
      // No event of these streams: the head alone (a second round trip, for new streams only).
      rows = await this.guard.call('read', () =>
        this.executor.query<Row>(this.sql.head, [], { name: this.names.head }),
      );
    }
    const head =
      rows[0]?.hx == null
        ? START
        : { transactionId: rows[0].hx, globalPosition: String(rows[0].hp) };
    return { events, position: encodePosition(head) };
  }

  async append(writes: readonly StreamWrite[]): Promise<AppendResult> {
    this.assertOpen();
    validateWrites(writes);
    const request = encodeAppend(writes);
    const { conflict, versionsBefore, firstPosition, lastPositionOfBatch, row } = await this.batcher
      .submit(
        request,
        writes.map((w) => w.streamId),
      )
      .catch((error: unknown) => {
        throw translateAppendError(error);
      });
    const before = versionsBefore;
    if (conflict) {
      const actual = new Map<string, number>(writes.map((w, i) => [w.streamId, before[i]!]));
      throw new ConcurrencyConflictError(findConflicts(writes, (id) => actual.get(id) ?? 0));
    }
    const versions = new Map<StreamId, number>();
    for (let w = 0; w < writes.length; w++) {
      versions.set(writes[w]!.streamId, before[w]! + writes[w]!.events.length);
    }
    const encoded = request.events;
    if (encoded.length === 0) {
      // A guard only: the batch's last event, or the log's head when the batch wrote none.
      const head =
        row.r_tx === null
          ? START
          : {
              transactionId: row.r_tx,
              globalPosition: String(lastPositionOfBatch ?? row.r_head_position),
            };
      return { events: [], versions, position: encodePosition(head) };
    }
    // Positions were reserved consecutively, in event order.
    const first = firstPosition!;
    const recordedAt = row.r_recorded_at!;
    const events = new Array<RecordedEvent>(encoded.length);
    let version = 0;
    for (let n = 0; n < encoded.length; n++) {
      const e = encoded[n]!;
      version =
        n > 0 && encoded[n - 1]!.writeIndex === e.writeIndex
          ? version + 1
          : before[e.writeIndex]! + 1;
      const event: { -readonly [K in keyof RecordedEvent]: RecordedEvent[K] } = {
        id: e.id,
        streamId: writes[e.writeIndex]!.streamId,
        streamVersion: version,
        globalPosition: first + n,
        type: e.type,
        data: e.encoding === undefined ? (JSON.parse(e.data) as unknown) : e.data,
        schemaVersion: e.schemaVersion,
        metadata: {
          correlationId: e.metadata.correlationId,
          causationId: e.metadata.causationId,
          userId: e.metadata.userId,
          custom: (e.customJson === '{}' ? {} : JSON.parse(e.customJson)) as Record<
            string,
            unknown
          >,
        },
        occurredAt: e.occurredAt,
        recordedAt,
      };
      // Binary events only (JSON ones omit it, as reads do): the JSON literal above stays as it was.
      if (e.encoding !== undefined) event.encoding = e.encoding;
      events[n] = Object.freeze(event);
    }
    const last = { transactionId: row.r_tx!, globalPosition: String(first + encoded.length - 1) };
    if (this.notifyAfterCommit) this.announce(last);
    return { events, versions, position: encodePosition(last) };
  }

  /** Events matching `filter` that a reader at `after` has yet to receive (projection lag). */
  async countAfter(after: Position | undefined, filter?: ReadAllFilter): Promise<number> {
    this.assertOpen();
    const from = after === undefined ? START : decodePosition(after);
    const [row] = await this.guard.call('read', () =>
      this.executor.query<{ n: string | number }>(this.sql.countAfter, [
        from.transactionId,
        from.globalPosition,
        nonEmpty(filter?.streamPrefixes),
        nonEmpty(filter?.eventTypes),
      ]),
    );
    return Number(row?.n ?? 0);
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    this.assertOpen();
    const limit = options.limit;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new InvalidOptionsError(
        'readAll limit',
        `use an integer from 1 to ${MAX_PAGE}, not ${String(limit)}`,
      );
    }
    const after = options.after === undefined ? START : decodePosition(options.after);
    const prefixes = nonEmpty(options.filter?.streamPrefixes);
    const types = nonEmpty(options.filter?.eventTypes);
    const filtered = prefixes !== null || types !== null;
    const budget = filtered ? Math.min(MAX_SCAN, Math.max(MIN_SCAN, limit * 10)) : limit;
    // Our own NOTIFY transaction would hold back our latest appends for its few microseconds.
    if (this.notifying !== undefined) await this.notifying;
    const rows = await this.guard.call('read', () =>
      this.executor.query<
        DedupedEventRow & { scanned: string | number | null; last_scanned: string | null }
      >(
        this.sql.readAll,
        [after.transactionId, after.globalPosition, prefixes, types, budget, limit],
        { name: this.names.readAll },
      ),
    );
    const scanned = Number(rows[0]?.scanned ?? 0);
    const decoder = new RowDecoder();
    const events = rows.filter((row) => row.i != null).map((row) => decoder.decode(row));
    const lastScanned = rows[0]?.last_scanned ?? null;
    const exhausted = scanned < budget; // every committed-and-safe event after `after` was scanned
    if (events.length === limit) {
      const lastRow = rows[rows.length - 1]!; // the only row with its transaction id
      const next = { transactionId: lastRow.x!, globalPosition: String(lastRow.p) };
      const atEnd = exhausted && lastScanned === encodePosition(next);
      return { events, next: encodePosition(next), isEnd: atEnd };
    }
    const next = lastScanned === null ? after : decodePosition(lastScanned);
    return { events, next: encodePosition(next), isEnd: exhausted };
  }

  comparePositions(a: Position, b: Position): number {
    return comparePositions(decodePosition(a), decodePosition(b));
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.guard.call('read', () => this.executor.query('SELECT 1'));
  }

  /**
   * Health details for indicators: ping latency, pool use, schema version and the age of the
   * oldest open transaction (which stalls subscribers). Throws `StoreUnavailableError` when the
   * database cannot be reached.
   */
  async health(): Promise<PostgresStoreHealth> {
    this.assertOpen();
    const started = performance.now();
    await this.guard.call('read', () => this.executor.query('SELECT 1'));
    const pingMs = Math.round((performance.now() - started) * 1000) / 1000;
    const [row] = await this.guard.call('read', () =>
      this.executor.query<{
        schema_version: number | null;
        oldest: string | number | null;
        oldest_write: string | number | null;
      }>(this.sql.health),
    );
    return {
      pingMs,
      pool: this.executor.stats(),
      schemaVersion: row?.schema_version == null ? null : Number(row.schema_version),
      oldestTransactionAgeSeconds: Number(row?.oldest ?? 0),
      oldestWriteTransactionAgeSeconds: Number(row?.oldest_write ?? 0),
      circuit: this.guard.circuit,
    };
  }

  /**
   * Brings the schema up to date (see `migrate`) and checks that the stored transaction ids are
   * behind this cluster's (they are not after a logical restore into a new cluster: see
   * "Logical backups" in docs/operations.md); the factories call it unless `migrate: false`.
   * Connection failures are retried like any call and reported as `StoreUnavailableError`.
   * @throws StoreUnavailableError naming the `pg_resetwal --epoch` step after such a restore.
   */
  async migrate(): Promise<number> {
    this.assertOpen();
    const version = await this.guard.call('write', () =>
      migrate(this.executor, { schema: this.schema }),
    );
    await this.guard.call('read', () => checkTransactionIds(this.executor, this.schema));
    return version;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      // Appends and reads accepted before close still go (close refuses only new ones).
      await Promise.all([this.batcher.idle(), this.reads.idle()]);
      await this.announcing;
      await this.executor.close();
    })();
    await this.closing;
  }

  private appendNotifier: { onAppended(listener: () => void): () => void } | undefined;

  /** The executor the store runs on, for components on the same database (checkpoint store). */
  get sqlExecutor(): SqlExecutor {
    return this.executor;
  }

  /**
   * Routes {@link onAppended} to `notifier` (a `PostgresAppendNotifier` on this database). Attach it
   * before projections start: they subscribe once, at start. Without one, projections poll.
   */
  useAppendNotifier(notifier: { onAppended(listener: () => void): () => void } | undefined): void {
    this.appendNotifier = notifier;
  }

  /** Calls `listener` after appends commit, in any process, through the attached notifier. */
  onAppended(listener: () => void): () => void {
    return this.appendNotifier?.onAppended(listener) ?? (() => undefined);
  }

  /**
   * Sends the NOTIFY of committed appends from its own transaction, coalesced: at most one in
   * flight, carrying the highest position appended meanwhile. NOTIFY inside the append would hold
   * PostgreSQL's cluster-wide notification lock through the append's WAL flush, so that no two
   * notifying commits could share a flush (measured: 16 clients then run no faster than one). The
   * notifying transaction does not wait for its own flush (`synchronous_commit = off`): the events
   * are already durable; a notification is only a wake-up, and subscribers also poll, so one lost
   * in a crash costs latency, never an event.
   *
   * That transaction has a transaction id, so while it runs `readAll` holds back events of
   * transactions that took a later id (see `read.sql.ts`) — briefly; `readAll` on this store waits
   * for it first, so that what this store appended is in the log it reads.
   */
  private announce(position: LogPosition): void {
    if (this.unannounced === undefined || comparePositions(position, this.unannounced) > 0) {
      this.unannounced = position;
    }
    this.announcing ??= (async () => {
      try {
        while (this.unannounced !== undefined) {
          const payload = encodePosition(this.unannounced);
          this.unannounced = undefined;
          this.notifying = this.executor.notify!(this.channel, payload).catch(() => undefined);
          await this.notifying;
          this.notifying = undefined;
        }
      } finally {
        this.announcing = undefined;
      }
    })();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

/** A duplicate event id is a malformed request (the statement rolled back: nothing was written). */
function translateAppendError(error: unknown): unknown {
  const { code, constraint, message, detail } = (error ?? {}) as Record<string, unknown>;
  const isDuplicateId =
    code === '23505' &&
    (constraint === 'events_event_id_key' ||
      (typeof message === 'string' && message.includes('events_event_id_key')));
  if (!isDuplicateId) return error;
  const which =
    typeof detail === 'string' ? /\(event_id\)=\(([^)]*)\)/.exec(detail)?.[1] : undefined;
  return new InvalidAppendError(
    `event id ${which ?? '(one of the events)'} is already stored; every event needs a new id`,
  );
}

/**
 * An error the database raised for the statement (it has a SQLSTATE): the batch's transaction
 * rolled back, so nothing of it was written. Connection failures and our own errors are not.
 */
function isStatementError(error: unknown): boolean {
  if (error instanceof EventCoreError || error instanceof SqlConnectionError) return false;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

function nonEmpty(list: readonly string[] | undefined): string[] | null {
  return list === undefined || list.length === 0 ? null : [...list];
}
