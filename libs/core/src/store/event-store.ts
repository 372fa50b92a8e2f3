import type { EventToAppend, RecordedEvent } from '../events/event';
import type { ExpectedVersion } from './expected-version';
import type {
  AppendOptions,
  EventQuery,
  EventQueryReadOptions,
  EventQueryReadResult,
} from './event-query';
import type { StreamId } from './stream-id';

/**
 * An opaque, store-specific token for a place in the global log. Produced by the store (in command
 * results and `readAll` pages), passed back to it; never parse or build one yourself.
 */
export type Position = string & { readonly __brand: 'eventcore.Position' };

/** The events of several streams, read at once. */
export interface ReadStreamsResult {
  /** Events of all requested streams, each stream in version order, merged by global position. */
  readonly events: readonly RecordedEvent[];
  /** Version of every requested stream (0 for a stream that does not exist). */
  readonly versions: ReadonlyMap<StreamId, number>;
  /** A position at or after every event read; usable for read-your-writes. */
  readonly position: Position;
}

/** One stream's part of an atomic append: what the writer expects and what it adds. */
export interface StreamWrite {
  readonly streamId: StreamId;
  readonly expected: ExpectedVersion;
  /** Zero events make the write a guard: the version is checked and nothing is added. */
  readonly events: readonly EventToAppend[];
}

/** What an append wrote. */
export interface AppendResult {
  /** The recorded events, in the order they were given. */
  readonly events: readonly RecordedEvent[];
  /** Version of every stream named in the append after the write. */
  readonly versions: ReadonlyMap<StreamId, number>;
  /** Position of the last event written (or of the log's head when none was). */
  readonly position: Position;
}

/** Which events a `readAll` returns. Empty or missing lists mean "all". */
export interface ReadAllFilter {
  /** Stream id prefixes, e.g. `account-`. */
  readonly streamPrefixes?: readonly string[];
  readonly eventTypes?: readonly string[];
  /**
   * Whether events of archived streams (see `StreamArchiving`) are included: a reader that only
   * cares about live streams (e.g. a projection of open accounts) may skip them.
   * @default true
   */
  readonly includeArchived?: boolean;
}

/** One page of the global log. */
export interface ReadAllPage {
  readonly events: readonly RecordedEvent[];
  /** Pass as `after` to continue. Advances past filtered-out events too. */
  readonly next: Position;
  /** True when the page reached the end of what is committed now. */
  readonly isEnd: boolean;
}

/** Options of {@link EventStore.readAll}. */
export interface ReadAllOptions {
  /** Read events after this position; omit to start at the beginning. */
  readonly after?: Position;
  /** Most events to return (1–10,000). */
  readonly limit: number;
  readonly filter?: ReadAllFilter;
}

/**
 * The event-store port. Every adapter passes the shared contract suite
 * (`eventStoreContract` in `@eventcore/core/testing`).
 */
export interface EventStore {
  /** Reads several streams in one call. */
  readStreams(streamIds: readonly StreamId[]): Promise<ReadStreamsResult>;
  /**
   * Appends to several streams atomically: either every write's expectation holds (and the
   * `options.condition`, when given) and all events are stored, or nothing is. `options.events`
   * adds events in no stream (DCB style); `dcbAppend` is the dcb.events form of this call.
   * @throws ConcurrencyConflictError naming every stream whose version differed.
   * @throws AppendConditionFailedError when an event matching the condition's query sits after
   *   its `after` (checked after the versions: a conflict is reported first).
   * @throws StreamArchivedError when a write with events targets an archived stream (checked
   *   before the versions; nothing is written).
   * @throws InvalidAppendError for a malformed request (e.g. the same stream twice).
   * @throws EventSerializationError when event data cannot be stored.
   */
  append(writes: readonly StreamWrite[], options?: AppendOptions): Promise<AppendResult>;
  /**
   * DCB read (dcb.events): the events matching `query`, in log order, from the gap-safe prefix of
   * the log. When matching events have committed beyond that prefix (an older write transaction
   * is still open somewhere), waits a bounded time for it, then fails.
   * @throws InvalidQueryError for a malformed query or options.
   * @throws LogHeldBackError when the prefix stayed held back past the store's wait limit; it
   *   names the blocking transaction when the store can see it.
   */
  read(query: EventQuery, options?: EventQueryReadOptions): Promise<EventQueryReadResult>;
  /**
   * Pages through the global log in commit order. A subscriber that follows `next` never skips an
   * event, whatever order concurrent transactions commit in.
   */
  readAll(options: ReadAllOptions): Promise<ReadAllPage>;
  /** Orders two positions of this store: negative, zero or positive like a comparator. */
  comparePositions(a: Position, b: Position): number;
  /** Checks the store answers; throws when it does not. */
  ping(): Promise<void>;
  /** Releases the store's resources. Later calls fail with StoreClosedError. */
  close(): Promise<void>;
  /** Optional: how many events matching `filter` come after `after` (projection lag). */
  countAfter?(after: Position | undefined, filter?: ReadAllFilter): Promise<number>;
  /**
   * Optional: calls `listener` after appends (in process, or through LISTEN/NOTIFY); returns an
   * unsubscribe function. Subscribers use it as a wake-up and poll as well.
   */
  onAppended?(listener: () => void): () => void;
}
