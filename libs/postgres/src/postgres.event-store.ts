import {
  AppendConditionFailedError,
  ArchiveRefusedError,
  type ArchiveStreamResult,
  type AppendCondition,
  type AppendOptions,
  type BlockingTransaction,
  ConcurrencyConflictError,
  EventCoreError,
  type AppendResult,
  type EventQuery,
  type EventQueryReadOptions,
  type EventQueryReadResult,
  type EventStore,
  type EventToAppend,
  InvalidAppendError,
  InvalidOptionsError,
  type Clock,
  type Position,
  type ReadAllFilter,
  type ReadAllOptions,
  type ReadAllPage,
  type ReadStreamsResult,
  type RecordedEvent,
  LogHeldBackError,
  StoreClosedError,
  StreamArchivedError,
  type StreamArchiving,
  streamId as checkedStreamId,
  type StreamId,
  UnsupportedTransactionError,
  type RetryOptions,
  type StreamWrite,
} from '@eventcore/core';
import {
  findConflicts,
  UNSTREAMED_PREFIX,
  validateQuery,
  validateReadOptions,
  validateWrites,
} from '@eventcore/core/adapter';
import { type CallerTransaction, callerQueryable } from './caller-transaction';
import { ConnectionGuard } from './executor/connection.guard';
import {
  type CircuitBreakerOptions,
  resolveCircuitBreaker,
  resolveConnectionRetry,
  resolveHeldBackWait,
} from './postgres.options';
import {
  type PoolStats,
  SqlConnectionError,
  type SqlExecutor,
  type SqlQueryable,
} from './executor/sql-executor';
import {
  comparePositions,
  decodePosition,
  encodePosition,
  type LogPosition,
  START,
} from './position';
import { appendBatchCallSql, appendDcbCallSql, readEventsCallSql } from './schema/dcb.sql';
import { batchParams } from './sql/append-batch';
import { archiveStreamCallSql } from './schema/partition.schema';
import {
  checkRetentionPolicy,
  type RetentionPolicy,
  type RetentionResult,
  retentionCandidatesSql,
} from './retention';
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
import { type AppendRequest, encodeAppend } from './sql/append-request';
import {
  type LogHoldBack,
  logHoldBackSql,
  readLogHoldBack,
  readOldestWriteTransaction,
} from './inspection/log-hold-back';
import { MAX_POSITION, queryProbes } from './sql/query-probes';
import { type DedupedEventRow, RowDecoder } from './sql/event-row.mapper';
import {
  countAfterSql,
  headSql,
  healthSql,
  readAllSql,
  readAllUnfilteredSql,
  readStreamsSql,
} from './sql/read.sql';
import { checkTransactionIds } from './schema/transaction-id.check';

const MAX_PAGE = 10_000;
/**
 * Least time from one NOTIFY transaction's start to the next one's (see `announce`): under load the
 * appends that commit meanwhile share one; after a quiet period a NOTIFY goes at once.
 */
const NOTIFY_GAP_MS = 5;
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
   * read on its own. @default { maxInFlight: 2 }
   */
  readonly readBatching?: ReadBatchingOptions | false;
  /** Time of the circuit breaker. @default the system clock */
  readonly clock?: Clock;
  /** Waits between retries. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Source of jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** As in `PostgresEventStoreOptions.heldBackWaitMs`. @default 5000 */
  readonly heldBackWaitMs?: number;
}

/** What {@link PostgresEventStore.health} reports. */
export interface PostgresStoreHealth {
  /** Round trip of `SELECT 1`, in milliseconds. */
  readonly pingMs: number;
  readonly pool: PoolStats;
  /** Schema version recorded in `<schema>.schema_version`. */
  readonly schemaVersion: number | null;
  /**
   * Age of the oldest open transaction on the server (not idle), in seconds; 0 when none, null
   * (unknown) when this role cannot see other sessions (grant it `pg_monitor`).
   * A long-open transaction that has written anything holds back `readAll`, hence subscribers.
   */
  readonly oldestTransactionAgeSeconds: number | null;
  /** Same, restricted to transactions that hold a transaction id (the ones that stall `readAll`). */
  readonly oldestWriteTransactionAgeSeconds: number | null;
  readonly circuit: 'closed' | 'open' | 'half-open' | 'disabled';
}

/**
 * The PostgreSQL event store, over any {@link SqlExecutor} (a `pg` pool or PGlite). Prefer the
 * factories `createPostgresEventStore` and `createPGliteEventStore`, which also migrate the schema.
 *
 * Appends are one call of an append function (one round trip): `append_batch_v8`, shared by
 * concurrent appends, or `append_dcb_v8` for an append with a condition or events in no stream;
 * reads are single statements (`read_events_v6` for DCB reads). Connection failures surface as
 * `StoreUnavailableError`.
 */
export class PostgresEventStore implements EventStore, StreamArchiving {
  /** The schema holding the store's tables. */
  readonly schema: string;
  private readonly guard: ConnectionGuard;
  private readonly batcher: AppendBatcher;
  private readonly reads: ReadBatcher;
  private readonly sql: {
    append: string;
    appendDcb: string;
    readQuery: string;
    readStreams: string;
    readStream: string;
    head: string;
    readAll: string;
    readAllUnfiltered: string;
    countAfter: string;
    health: string;
    holdBack: string;
  };
  private readonly names: {
    append?: string;
    appendDcb?: string;
    readQuery?: string;
    readStreams?: string;
    readStream?: string;
    head?: string;
    readAll?: string;
    readAllUnfiltered?: string;
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
  /** When the last NOTIFY transaction started (clock milliseconds; see {@link announce}). */
  private notifiedAt = Number.NEGATIVE_INFINITY;
  private readonly heldBackWaitMs: number;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly executor: SqlExecutor,
    options: PostgresEventStoreConstructorOptions = {},
  ) {
    this.schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
    this.heldBackWaitMs = resolveHeldBackWait(options.heldBackWaitMs);
    this.clock = options.clock ?? { now: () => new Date() };
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.guard = new ConnectionGuard(
      resolveConnectionRetry(options.retry, 'off'),
      resolveCircuitBreaker(options.circuitBreaker, 'off'),
      { clock: options.clock, sleep: options.sleep, random: options.random },
    );
    this.sql = {
      append: appendBatchCallSql(this.schema),
      appendDcb: appendDcbCallSql(this.schema),
      readQuery: readEventsCallSql(this.schema),
      readStreams: readStreamsSql(this.schema),
      readStream: readStreamsSql(this.schema, true),
      head: headSql(this.schema),
      readAll: readAllSql(this.schema),
      readAllUnfiltered: readAllUnfilteredSql(this.schema),
      countAfter: countAfterSql(this.schema),
      health: healthSql(this.schema),
      holdBack: logHoldBackSql(this.schema),
    };
    this.channel = notificationChannel(this.schema);
    this.notifyAfterCommit =
      (options.notify ?? 'after-commit') === 'after-commit' && executor.notify !== undefined;
    this.names =
      options.preparedStatements === false
        ? {}
        : {
            append: `eventcore_append_batch_${this.schema}`,
            appendDcb: `eventcore_append_dcb_${this.schema}`,
            readQuery: `eventcore_read_events_${this.schema}`,
            readStreams: `eventcore_read_streams_${this.schema}`,
            readStream: `eventcore_read_stream_${this.schema}`,
            head: `eventcore_head_${this.schema}`,
            readAll: `eventcore_read_all_${this.schema}`,
            readAllUnfiltered: `eventcore_read_all_unfiltered_${this.schema}`,
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

  async append(writes: readonly StreamWrite[], options?: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    validateWrites(writes, options);
    const unstreamed = options?.events ?? [];
    if (options?.condition !== undefined || unstreamed.length > 0) {
      return this.appendDcb(writes, unstreamed, options?.condition);
    }
    const request = encodeAppend(writes);
    const { conflict, archivedWrites, versionsBefore, firstPosition, lastPositionOfBatch, row } =
      await this.batcher
        .submit(
          request,
          writes.map((w) => w.streamId),
        )
        .catch((error: unknown) => {
          throw translateAppendError(error);
        });
    if (archivedWrites.length > 0) {
      throw new StreamArchivedError(archivedWrites.map((w) => writes[w]!.streamId));
    }
    if (conflict) throw conflictOf(writes, versionsBefore);
    if (request.events.length === 0) {
      // A guard only: the batch's last event, or the log's head when the batch wrote none.
      const head =
        row.r_tx === null
          ? START
          : {
              transactionId: row.r_tx,
              globalPosition: String(lastPositionOfBatch ?? row.r_head_position),
            };
      return {
        events: [],
        versions: versionsAfter(writes, versionsBefore),
        position: encodePosition(head),
      };
    }
    return this.written(
      writes,
      request,
      versionsBefore,
      firstPosition!,
      row.r_tx!,
      row.r_recorded_at!,
    );
  }

  /**
   * Appends inside a transaction the application holds — a `pg` client after `BEGIN`, a TypeORM
   * `QueryRunner` after `startTransaction()`, or a TypeORM transaction's `EntityManager` — so its own
   * rows and the events commit or roll back together. `writes` and `options` are those of
   * {@link append}. Two statements on the caller's connection (a check, then `append_dcb_v8`),
   * never BEGIN, COMMIT or ROLLBACK; subscribers are notified by `pg_notify` inside the
   * transaction, so only when it commits. Not retried, not batched.
   * @throws UnsupportedTransactionError, before writing anything, when the transaction has already
   * written (append first), is not READ COMMITTED, is not open, or has failed.
   */
  async appendInTransaction(
    transaction: CallerTransaction,
    writes: readonly StreamWrite[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    this.assertOpen();
    const connection = callerQueryable(transaction);
    validateWrites(writes, options);
    const [state] = await connection
      .query<{ written: boolean; isolation: string }>(CALLER_TRANSACTION_SQL)
      .catch((error: unknown) => {
        // A failed block (the client's own status may not say so yet: it lags one message).
        const aborted = (error as { code?: unknown } | null)?.code === '25P02';
        throw aborted ? new UnsupportedTransactionError('aborted') : error;
      });
    // A transaction id taken before the append's position lock would put its events out of log order.
    if (state?.written !== false) throw new UnsupportedTransactionError('written-before-append');
    if (state.isolation !== 'read committed') {
      throw new UnsupportedTransactionError('isolation', state.isolation);
    }
    return this.appendDcb(writes, options?.events ?? [], options?.condition, connection);
  }

  /**
   * An append with a condition or with events in no stream, or in the caller's transaction: one
   * call of `append_dcb_v8` (one round trip, never batched: each takes its own locks and checks its
   * own condition). On the caller's connection, unnamed, with the NOTIFY inside its transaction.
   */
  private async appendDcb(
    writes: readonly StreamWrite[],
    unstreamed: readonly EventToAppend[],
    condition: AppendCondition | undefined,
    caller?: SqlQueryable,
  ): Promise<AppendResult> {
    const request = encodeAppend(writes, unstreamed);
    const probes =
      condition === undefined ? null : JSON.stringify(queryProbes(condition.failIfEventsMatch));
    const notifyInTransaction = caller !== undefined || !this.notifyAfterCommit;
    const params = [...request.params, probes, condition?.after ?? null, notifyInTransaction];
    const call =
      caller === undefined
        ? this.guard.call('write', () =>
            this.executor.query<DcbRow>(this.sql.appendDcb, params, { name: this.names.appendDcb }),
          )
        : caller.query<DcbRow>(this.sql.appendDcb, params);
    const [row] = await call.catch((error: unknown) => {
      throw translateAppendError(error);
    });
    if (row === undefined || !Array.isArray(row.r_versions) || !Array.isArray(row.r_archived)) {
      throw new Error('append_dcb_v8 did not answer its row: is the schema at version 8?');
    }
    if (row.r_archived.length > 0) throw new StreamArchivedError(row.r_archived);
    const versionsBefore = row.r_versions.map(Number);
    if (row.r_conflict) throw conflictOf(writes, versionsBefore);
    if (row.r_condition_failed) {
      throw new AppendConditionFailedError(condition!.failIfEventsMatch, condition!.after);
    }
    if (request.events.length === 0) {
      const head =
        row.r_tx === null
          ? START
          : { transactionId: row.r_tx, globalPosition: String(row.r_head_position) };
      return {
        events: [],
        versions: versionsAfter(writes, versionsBefore),
        position: encodePosition(head),
      };
    }
    return this.written(
      writes,
      request,
      versionsBefore,
      Number(row.r_first_position),
      row.r_tx!,
      row.r_recorded_at!,
      !notifyInTransaction,
    );
  }

  /**
   * The result of an append that wrote its events at consecutive positions from `first`;
   * `announce`: send subscribers' NOTIFY now, from a transaction of our own.
   */
  private written(
    writes: readonly StreamWrite[],
    request: AppendRequest,
    before: readonly number[],
    first: number,
    transactionId: string,
    recordedAt: string,
    announce = this.notifyAfterCommit,
  ): AppendResult {
    const encoded = request.events;
    const events = new Array<RecordedEvent>(encoded.length);
    let version = 0;
    for (let n = 0; n < encoded.length; n++) {
      const e = encoded[n]!;
      if (e.writeIndex < 0) version = 1;
      else if (n > 0 && encoded[n - 1]!.writeIndex === e.writeIndex) version++;
      else version = before[e.writeIndex]! + 1;
      const event: { -readonly [K in keyof RecordedEvent]: RecordedEvent[K] } = {
        id: e.id,
        streamId: e.streamId as StreamId,
        streamVersion: version,
        globalPosition: first + n,
        tags: e.tags,
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
    const last = { transactionId, globalPosition: String(first + encoded.length - 1) };
    if (announce) this.announce(last);
    return { events, versions: versionsAfter(writes, before), position: encodePosition(last) };
  }

  async read(
    query: EventQuery,
    options: EventQueryReadOptions = {},
  ): Promise<EventQueryReadResult> {
    this.assertOpen();
    validateQuery(query);
    validateReadOptions(options);
    const backwards = options.backwards === true;
    const from = options.from === undefined ? undefined : String(options.from);
    const params = [
      JSON.stringify(queryProbes(query)),
      backwards ? '0' : (from ?? '0'),
      backwards ? (from ?? MAX_POSITION) : MAX_POSITION,
      options.limit ?? null,
      backwards,
    ];
    // Our own NOTIFY transaction would hold back our latest appends for its few microseconds.
    if (this.notifying !== undefined) await this.notifying;
    const started = this.clock.now().getTime();
    for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
      const rows = await this.guard.call('read', () =>
        this.executor.query<DedupedEventRow & { held: boolean | null; head: string | null }>(
          this.sql.readQuery,
          params,
          { name: this.names.readQuery },
        ),
      );
      const decoder = new RowDecoder();
      const events = rows.filter((row) => row.i != null).map((row) => decoder.decode(row));
      // Events beyond the prefix sort after every event read: a forward read that is already full
      // would not include them.
      const full = !backwards && options.limit !== undefined && events.length === options.limit;
      if (rows[0]?.held !== true || full) {
        const head = rows[0]?.head ?? null;
        return { events, position: head === null ? encodePosition(START) : (head as Position) };
      }
      const waited = this.clock.now().getTime() - started;
      if (waited >= this.heldBackWaitMs) {
        throw new LogHeldBackError(waited, await this.blockingTransaction());
      }
      await this.sleep(Math.min(delay, this.heldBackWaitMs - waited));
    }
  }

  /**
   * The open transaction with the oldest transaction id on the server, in any database: the one
   * that holds the gap-safe prefix back. Undefined when this role cannot see other sessions'
   * transactions (without `pg_read_all_stats`, which `pg_monitor` includes) or none is open.
   */
  private async blockingTransaction(): Promise<BlockingTransaction | undefined> {
    const oldest = await this.guard.call('read', () => readOldestWriteTransaction(this.executor));
    return oldest.known ? (oldest.transaction ?? undefined) : undefined;
  }

  /**
   * How long subscribers have been held back — committed events that `readAll` cannot return yet
   * because an older write transaction, in any database of the server, is still open — and the
   * oldest such transaction when this role can see it (`pg_monitor`). One statement; health
   * indicators and the projections' stall monitor call it.
   * @throws StoreUnavailableError when the database cannot be reached.
   */
  async logHoldBack(): Promise<LogHoldBack> {
    this.assertOpen();
    return this.guard.call('read', () => readLogHoldBack(this.executor, this.sql.holdBack));
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
        filter?.includeArchived !== false,
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
    const includeArchived = options.filter?.includeArchived !== false;
    const filtered = prefixes !== null || types !== null || !includeArchived;
    const budget = filtered ? Math.min(MAX_SCAN, Math.max(MIN_SCAN, limit * 10)) : limit;
    // Our own NOTIFY transaction would hold back our latest appends for its few microseconds.
    if (this.notifying !== undefined) await this.notifying;
    const rows = await this.guard.call('read', () =>
      this.executor.query<
        DedupedEventRow & { scanned: string | number | null; last_scanned: string | null }
      >(
        filtered ? this.sql.readAll : this.sql.readAllUnfiltered,
        [
          after.transactionId,
          after.globalPosition,
          prefixes,
          types,
          budget,
          limit,
          includeArchived,
        ],
        { name: filtered ? this.names.readAll : this.names.readAllUnfiltered },
      ),
    );
    const decoder = new RowDecoder();
    const events = rows.filter((row) => row.i != null).map((row) => decoder.decode(row));
    // Without a filter every row scanned is an event, and the last one carries its transaction id.
    const last = rows[rows.length - 1];
    const scanned = filtered ? Number(rows[0]?.scanned ?? 0) : rows.length;
    const lastScanned = filtered
      ? (rows[0]?.last_scanned ?? null)
      : last === undefined
        ? null
        : encodePosition({ transactionId: last.x!, globalPosition: String(last.p) });
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

  /**
   * Archives a finished stream (see `StreamArchiving`): one call of `archive_stream_v8`, which
   * moves its events to the archived partition (on a table not yet converted, flags them) under
   * the stream's lock, so an append on it either commits before or is refused after.
   * Refused while a projection whose checkpoint is in this schema has not processed the stream's
   * last event. The archiving transaction holds subscribers back while it runs (it is a write):
   * archive a very long stream outside busy hours.
   * @throws InvalidStreamIdError for an id `streamId()` refuses.
   * @throws ArchiveRefusedError, nothing changed: no such stream, or projections behind.
   */
  async archiveStream(streamId: StreamId): Promise<ArchiveStreamResult> {
    this.assertOpen();
    checkedStreamId(streamId);
    const [row] = await this.guard.call('write', () =>
      this.executor.query<{
        r_status: string;
        r_moved: string | number;
        r_behind: string[] | null;
      }>(archiveStreamCallSql(this.schema), [streamId]),
    );
    if (row?.r_status === 'missing') throw new ArchiveRefusedError(streamId, 'stream-not-found');
    if (row?.r_status === 'behind') {
      throw new ArchiveRefusedError(streamId, 'projections-behind', row.r_behind ?? []);
    }
    if (row?.r_status !== 'archived') {
      throw new Error('archive_stream_v8 did not answer its row: is the schema at version 8?');
    }
    const archivedEvents = Number(row.r_moved);
    return { streamId, archivedEvents, alreadyArchived: archivedEvents === 0 };
  }

  /**
   * One retention pass: archives (see {@link archiveStream}) every stream the policy names — last
   * event older than `afterDays` and, with `closedBy`, of a closing type — up to `maxStreams`, one
   * stream per transaction. A stream a projection has not caught up with is deferred, not an
   * error: the next pass takes it. Run it from a scheduler, or by hand.
   * @throws InvalidOptionsError for a malformed policy, before anything is read.
   */
  async applyRetention(policy: RetentionPolicy): Promise<RetentionResult> {
    this.assertOpen();
    const { closedBy, afterDays, maxStreams } = checkRetentionPolicy(policy);
    const rows = await this.guard.call('read', () =>
      this.executor.query<{ stream_id: string }>(retentionCandidatesSql(this.schema), [
        [...closedBy],
        afterDays,
        maxStreams,
      ]),
    );
    const archived: StreamId[] = [];
    const deferred: { streamId: StreamId; projections: readonly string[] }[] = [];
    let archivedEvents = 0;
    for (const { stream_id } of rows) {
      const id = stream_id as StreamId;
      try {
        const result = await this.archiveStream(id);
        archived.push(id);
        archivedEvents += result.archivedEvents;
      } catch (error) {
        if (!(error instanceof ArchiveRefusedError) || error.reason !== 'projections-behind') {
          throw error;
        }
        deferred.push({ streamId: id, projections: error.projections });
      }
    }
    return { archived, archivedEvents, deferred };
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
        privileged: boolean;
        oldest: string | number | null;
        oldest_write: string | number | null;
      }>(this.sql.health),
    );
    // Other roles' sessions show no transaction start without the privilege: "none" would lie.
    const age = (seconds: string | number | null | undefined) =>
      row?.privileged === true ? Number(seconds ?? 0) : null;
    return {
      pingMs,
      pool: this.executor.stats(),
      schemaVersion: row?.schema_version == null ? null : Number(row.schema_version),
      oldestTransactionAgeSeconds: age(row?.oldest),
      oldestWriteTransactionAgeSeconds: age(row?.oldest_write),
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
   * flight, carrying the highest position appended meanwhile, and at least `NOTIFY_GAP_MS` after
   * the previous one started: each is a transaction on the server (about a fifth of the server and
   * client CPU of an uncached command at 16 clients when they ran back to back), and the gap lets
   * the appends of a few milliseconds share one; after a quiet period it goes at once (see
   * docs/decisions.md, 42). NOTIFY inside the append would hold PostgreSQL's cluster-wide
   * notification lock through the append's WAL flush, so that no two notifying commits could share a
   * flush (measured: 16 clients then run no faster than one). The
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
          const wait = this.notifiedAt + NOTIFY_GAP_MS - this.clock.now().getTime();
          if (wait > 0) await this.sleep(wait);
          this.notifiedAt = this.clock.now().getTime();
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

/**
 * What `appendInTransaction` checks first: whether the caller's transaction holds a transaction
 * id already (it wrote), and its isolation level.
 */
const CALLER_TRANSACTION_SQL = `SELECT pg_current_xact_id_if_assigned() IS NOT NULL AS written,
  current_setting('transaction_isolation') AS isolation`;

/** The row of `append_dcb_v8`. */
interface DcbRow {
  r_conflict: boolean;
  /** The streams written to that are archived: nothing was written. */
  r_archived: string[];
  r_condition_failed: boolean;
  r_versions: (string | number)[];
  r_first_position: string | number | null;
  r_tx: string | null;
  r_recorded_at: string | null;
  r_head_position: string | number | null;
}

/** The conflict of an append whose streams had the versions `before` (in write order). */
function conflictOf(
  writes: readonly StreamWrite[],
  before: readonly number[],
): ConcurrencyConflictError {
  const actual = new Map<string, number>(writes.map((w, i) => [w.streamId, before[i]!]));
  return new ConcurrencyConflictError(findConflicts(writes, (id) => actual.get(id) ?? 0));
}

/** Every written stream's version after an append (events in no stream have no entry). */
function versionsAfter(
  writes: readonly StreamWrite[],
  before: readonly number[],
): Map<StreamId, number> {
  const versions = new Map<StreamId, number>();
  for (let w = 0; w < writes.length; w++) {
    versions.set(writes[w]!.streamId, before[w]! + writes[w]!.events.length);
  }
  return versions;
}

/**
 * A duplicate event id is a malformed request (the statement rolled back: nothing was written).
 * An event in no stream with a stored id collides on its stream (`$event-<id>`, version 1) first.
 */
function translateAppendError(error: unknown): unknown {
  const { code, constraint, message, detail } = (error ?? {}) as Record<string, unknown>;
  if (code !== '23505') return error;
  const violated = (name: string) =>
    constraint === name || (typeof message === 'string' && message.includes(name));
  const details = typeof detail === 'string' ? detail : '';
  let which: string | undefined;
  // On the partitioned table (schema version 8) the partitions' keys are named after them
  // (`events_hot_event_id_archived_key`) and include `archived`.
  if (violated('events_event_id_key') || /^\w*event_id_archived_key$/.test(String(constraint))) {
    which = /\(event_id(?:, archived)?\)=\(([0-9a-f-]+)/.exec(details)?.[1];
  } else if (
    (violated('events_stream_version_key') ||
      /^\w*stream_id_stream_version_archived_key$/.test(String(constraint))) &&
    details.includes(UNSTREAMED_PREFIX)
  ) {
    which = /\$event-([0-9a-f-]+)/.exec(details)?.[1];
  } else {
    return error;
  }
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
