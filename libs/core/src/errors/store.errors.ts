import { ErrorMessages } from './error-messages';
import { ErrorCodes, EventCoreError } from './eventcore.error';
import type { ExpectedVersion } from '../store/expected-version';
import type { EventQuery } from '../store/event-query';

/** A stream id failed validation; see {@link streamId}. */
export class InvalidStreamIdError extends EventCoreError {
  readonly code = ErrorCodes.invalidStreamId;
  constructor(
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(ErrorMessages.invalidStreamId(value, reason));
  }
}

/** A position token was not produced by this event store. */
export class InvalidPositionError extends EventCoreError {
  readonly code = ErrorCodes.invalidPosition;
  constructor(readonly value: unknown) {
    super(ErrorMessages.invalidPosition(value));
  }
}

/** One stream whose version did not match what the writer expected. */
export interface StreamConflict {
  readonly streamId: string;
  readonly expected: ExpectedVersion;
  /** The stream's version when the append was attempted (0 = the stream does not exist). */
  readonly actual: number;
}

/**
 * An append found streams whose versions differ from what was expected. Nothing was written.
 * `conflicts` names every offending stream. The executor retries commands on this error only.
 */
export class ConcurrencyConflictError extends EventCoreError {
  readonly code = ErrorCodes.concurrencyConflict;
  constructor(readonly conflicts: readonly StreamConflict[]) {
    super(
      ErrorMessages.concurrencyConflict(
        conflicts
          .map(
            (c) => `"${c.streamId}" (expected ${describeExpected(c.expected)}, actual ${c.actual})`,
          )
          .join(', '),
      ),
    );
  }
}

function describeExpected(expected: ExpectedVersion): string {
  return expected.kind === 'exact' ? `version ${expected.version}` : expected.kind;
}

/**
 * An append would write to an archived stream (see `archiveStream`). Nothing was written; never
 * retried: an archived stream stays archived. `streamIds` names every archived stream written to.
 */
export class StreamArchivedError extends EventCoreError {
  readonly code = ErrorCodes.streamArchived;
  constructor(readonly streamIds: readonly string[]) {
    super(ErrorMessages.streamArchived(streamIds.map((id) => `"${id}"`).join(', ')));
  }
}

/** Why {@link ArchiveRefusedError} refused: no such stream, or projections not past its last event. */
export type ArchiveRefusal = 'stream-not-found' | 'projections-behind';

/**
 * `archiveStream` refused; nothing changed. `projections-behind`: the projections named in
 * `projections` have not yet processed the stream's last event (archive once they have caught up,
 * so none can miss an event); `stream-not-found`: the stream has no event.
 */
export class ArchiveRefusedError extends EventCoreError {
  readonly code = ErrorCodes.archiveRefused;
  constructor(
    readonly streamId: string,
    readonly reason: ArchiveRefusal,
    readonly projections: readonly string[] = [],
  ) {
    super(
      ErrorMessages.archiveRefused(
        streamId,
        reason === 'stream-not-found'
          ? 'the stream has no event'
          : `projection(s) ${projections.join(', ')} have not yet processed its last event; retry once they have caught up`,
      ),
    );
  }
}

/** A DCB query or its read options were malformed. Nothing was read or written. */
export class InvalidQueryError extends EventCoreError {
  readonly code = ErrorCodes.invalidQuery;
  constructor(readonly reason: string) {
    super(ErrorMessages.invalidQuery(reason));
  }
}

/**
 * A DCB append condition did not hold: an event matching `query` sits after `after` (or exists at
 * all when `after` is undefined). Nothing was written. The executor retries commands on it, as on
 * a {@link ConcurrencyConflictError}.
 */
export class AppendConditionFailedError extends EventCoreError {
  readonly code = ErrorCodes.appendConditionFailed;
  constructor(
    readonly query: EventQuery,
    readonly after: number | undefined,
  ) {
    super(ErrorMessages.appendConditionFailed(JSON.stringify(query), after));
  }
}

/** The open write transaction that holds the gap-safe prefix of the log back, as the server shows it. */
export interface BlockingTransaction {
  readonly pid: number;
  /** The database it runs in: the hold-back is server-wide, so it may be another one. */
  readonly database: string | null;
  readonly applicationName: string | null;
  /** `pg_stat_activity.state`, e.g. `idle in transaction`. */
  readonly state: string | null;
  /** Seconds since the transaction started. */
  readonly ageSeconds: number;
  /** Start of its current (or last) statement, ISO 8601. */
  readonly queryStart: string | null;
}

/**
 * A DCB read waited for the gap-safe prefix to include events that had committed, and an older
 * open write transaction kept it back past the wait limit. Nothing was decided; safe to retry.
 * `blocking` is undefined when the store cannot see other sessions (no `pg_monitor` privilege).
 */
export class LogHeldBackError extends EventCoreError {
  readonly code = ErrorCodes.logHeldBack;
  constructor(
    readonly waitedMs: number,
    readonly blocking: BlockingTransaction | undefined,
  ) {
    super(
      ErrorMessages.logHeldBack(
        waitedMs,
        blocking === undefined
          ? 'The blocking transaction is not visible to this role (grant pg_monitor to see it).'
          : `Blocking transaction: pid ${blocking.pid}, database ${blocking.database ?? '?'}, application "${blocking.applicationName ?? ''}", state ${blocking.state ?? '?'}, open for ${blocking.ageSeconds.toFixed(1)} s.`,
      ),
    );
  }
}

/**
 * An append inside the caller's own transaction (`PostgresEventStore.appendInTransaction`) was
 * refused before anything was written: the transaction had already written (its events would sort
 * out of log order: append first), runs at an isolation level other than READ COMMITTED, is not
 * open, or has failed. The caller's transaction is left as it was.
 */
export class UnsupportedTransactionError extends EventCoreError {
  readonly code = ErrorCodes.unsupportedTransaction;
  constructor(
    readonly reason: 'written-before-append' | 'isolation' | 'no-transaction' | 'aborted',
    /** The transaction's isolation level, for `reason: 'isolation'`. */
    readonly isolation?: string,
  ) {
    super(ErrorMessages.unsupportedTransaction(reason, isolation));
  }
}

/** An append request was malformed (duplicate streams, bad event shape). Nothing was written. */
export class InvalidAppendError extends EventCoreError {
  readonly code = ErrorCodes.invalidAppend;
  constructor(readonly reason: string) {
    super(ErrorMessages.invalidAppend(reason));
  }
}

/** Event data cannot be encoded (BigInt, cycles, ...). Found before anything is written. */
export class EventSerializationError extends EventCoreError {
  readonly code = ErrorCodes.eventSerialization;
  constructor(
    readonly streamId: string,
    readonly eventType: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorMessages.eventSerialization(streamId, eventType, reason), options);
  }
}

/**
 * A string of an event (in its data, custom metadata, ids or type; a value or a key) holds text no
 * store can keep: a NUL character or an unpaired UTF-16 surrogate. Every store refuses it alike,
 * before anything is written. `path` names where it is, e.g. `data.owner` or `metadata.custom.note`.
 */
export class UnstorableTextError extends EventCoreError {
  readonly code = ErrorCodes.unstorableText;
  constructor(
    readonly streamId: string,
    readonly eventType: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(ErrorMessages.unstorableText(streamId, eventType, path, reason));
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends EventCoreError {
  readonly code = ErrorCodes.storeClosed;
  constructor() {
    super(ErrorMessages.storeClosed());
  }
}

/** Options given to an EventCore component are invalid. */
export class InvalidOptionsError extends EventCoreError {
  readonly code = ErrorCodes.invalidOptions;
  constructor(
    readonly what: string,
    readonly reason: string,
  ) {
    super(ErrorMessages.invalidOptions(what, reason));
  }
}

/**
 * The database behind the store cannot be reached (connection refused or timed out, connection
 * lost, too many connections), or the store's circuit breaker is open after repeated failures and
 * fails fast. `outcome` is `unknown` when an append was in flight: use an idempotency key to retry.
 */
export class StoreUnavailableError extends EventCoreError {
  readonly code = ErrorCodes.storeUnavailable;
  constructor(
    readonly reason: string,
    readonly outcome: 'not-written' | 'unknown' = 'not-written',
    readonly circuitOpen = false,
    options?: { cause?: unknown },
  ) {
    super(ErrorMessages.storeUnavailable(reason, outcome), options);
  }
}

/** Who holds an embedded database's directory, as recorded in its lock. */
export interface EmbeddedDatabaseHolder {
  readonly pid: number;
  readonly host: string;
  /** When the holding process started (ISO 8601), if known. */
  readonly startedAt?: string;
  /** True when the holder is this very process (a second store or opener in the same process). */
  readonly thisProcess: boolean;
}

/**
 * An embedded (PGlite) database directory is already open in a live process, or in this one.
 * Nothing was opened: two writers on one directory would lose each other's events silently.
 */
export class EmbeddedDatabaseLockedError extends EventCoreError {
  readonly code = ErrorCodes.embeddedDatabaseLocked;
  constructor(
    readonly dataDir: string,
    readonly holder: EmbeddedDatabaseHolder,
  ) {
    super(ErrorMessages.embeddedDatabaseLocked(dataDir, describeHolder(holder)));
  }
}

function describeHolder(holder: EmbeddedDatabaseHolder): string {
  const started = holder.startedAt === undefined ? '' : `, started ${holder.startedAt}`;
  const who = holder.thisProcess ? 'this process' : 'process';
  return `${who} ${holder.pid} on host "${holder.host}"${started}`;
}
