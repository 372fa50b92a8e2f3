import type { BlockingTransaction } from '../errors';
import type { RecordedEvent } from '../events/event';
import type { StreamId } from './stream-id';

/** A stream found by {@link EventStoreInspection.findStreams}. */
export interface StreamSummary {
  /** The stream's id, as stored. */
  readonly streamId: StreamId;
  /** Number of events in the stream (its version). */
  readonly version: number;
}

/** The last event of the log, by global position. */
export interface LogHead {
  /** Highest global position written; 0 for an empty log. */
  readonly globalPosition: number;
  /** When that event was recorded (ISO 8601); null for an empty log. */
  readonly recordedAt: string | null;
}

/**
 * The oldest open write transaction on the database server, which holds back every subscriber's
 * gap-safe horizon (on any database of the server). `known: false` when the store cannot see
 * other sessions' transactions (PostgreSQL without `pg_monitor` or `pg_read_all_stats`): the
 * answer is "unknown", never "none".
 */
export type OldestWriteTransaction =
  | { readonly known: true; readonly transaction: BlockingTransaction | null }
  | { readonly known: false; readonly reason: string };

/** Options of {@link EventStoreInspection.findStreams}. */
export interface FindStreamsOptions {
  /** Only ids after this one (for paging): pass the last id of the previous page. */
  readonly after?: string;
  /** Most streams to return. @default 50 */
  readonly limit?: number;
}

/**
 * Optional, read-mostly questions an operator asks a store (the operations console uses them);
 * not part of the `EventStore` port, which is what commands and subscribers need. Implemented by
 * `InMemoryStoreInspection` and `PostgresStoreInspection`. `Tx` is the checkpoint store's
 * transaction, so that a dead letter is removed in the transaction that re-handled it.
 */
export interface EventStoreInspection<Tx = unknown> {
  /** Stream ids that start with `prefix` (`''` for all), in id order, with their versions. */
  findStreams(prefix: string, options?: FindStreamsOptions): Promise<readonly StreamSummary[]>;
  /** The event with this id, or undefined. */
  findEvent(eventId: string): Promise<RecordedEvent | undefined>;
  /**
   * Every event whose `metadata.correlationId` is `correlationId`, in log order, across streams;
   * at most `limit` (default 1000), the earliest first.
   */
  eventsByCorrelationId(
    correlationId: string,
    options?: { readonly limit?: number },
  ): Promise<readonly RecordedEvent[]>;
  /** The log's last event position and time (cheap: for sampling events per second). */
  head(): Promise<LogHead>;
  /** What holds subscribers back, as far as the store can see. */
  oldestWriteTransaction(): Promise<OldestWriteTransaction>;
  /**
   * Deletes a projection's dead-letter record for `eventId` (after the event was re-handled, or
   * to skip it for good); runs in `tx` when given. Resolves false when there was no such record.
   */
  removeDeadLetter(projection: string, eventId: string, tx?: Tx): Promise<boolean>;
}
