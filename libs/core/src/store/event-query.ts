import type { EventToAppend, RecordedEvent } from '../events/event';
import type { Position } from './event-store';

/**
 * One alternative of an {@link EventQuery} (dcb.events): it matches an event whose type is one of
 * `types` (when given and not empty) and whose tags include every one of `tags` (when given and not
 * empty). An item with neither matches every event.
 */
export interface QueryItem<T extends string = string> {
  readonly types?: readonly T[];
  readonly tags?: readonly string[];
}

/**
 * Which events a DCB read returns or an append condition guards: the `items` combined with OR. No
 * item (`{ items: [] }`, the way the dcb.events suite writes "all") matches every event; see
 * {@link ALL_EVENTS}.
 *
 * `T` names the event types the query can match, so that a command's `ctx.append` accepts only
 * those; it is `string` unless every item names literal types (see the `query` and `item` builders).
 */
export interface EventQuery<T extends string = string> {
  readonly items: readonly QueryItem<T>[];
}

/** The query that matches every event. */
export const ALL_EVENTS: EventQuery = Object.freeze({ items: Object.freeze([]) });

/**
 * An append condition (dcb.events): the append fails, writing nothing, when an event matching
 * `failIfEventsMatch` sits after `after` in the log — or, when `after` is omitted, when any matching
 * event exists at all.
 */
export interface AppendCondition {
  readonly failIfEventsMatch: EventQuery;
  /**
   * A global position (`RecordedEvent.globalPosition`) the decision had read up to: typically the
   * position of the last event a `read` of the same query returned.
   */
  readonly after?: number;
}

/** Options of {@link EventStore.read}. */
export interface EventQueryReadOptions {
  /**
   * First global position to return, **inclusive** (as the dcb.events `from`); with `backwards`,
   * the highest position to return. @default the start (or, backwards, the end) of the log
   */
  readonly from?: number;
  /** Newest first. @default false */
  readonly backwards?: boolean;
  /** Most events to return (1–10,000). @default no limit */
  readonly limit?: number;
}

/** What a query read returns. */
export interface EventQueryReadResult {
  /**
   * The matching events in log order (reversed when reading backwards). Only the gap-safe prefix
   * of the log is read: no event can later commit at a position below one returned here, so a
   * condition whose `after` comes from this read can never miss a late commit.
   */
  readonly events: readonly RecordedEvent[];
  /** A position at or after every event read; usable for read-your-writes. */
  readonly position: Position;
}

/** Options of an {@link EventStore.append} beyond its stream writes. */
export interface AppendOptions {
  /** Fails the whole append (nothing written) when it does not hold; see {@link AppendCondition}. */
  readonly condition?: AppendCondition;
  /**
   * Events in no stream (the dcb.events style), written atomically with the stream writes and after
   * their events. Each is recorded in a stream of its own, `$event-<event id>`, at version 1 (ids
   * starting with `$` are reserved, so no user stream is ever named so); it is found by its tags
   * and type.
   */
  readonly events?: readonly EventToAppend[];
}

/** The stream a stream-less event is recorded in; see {@link AppendOptions.events}. */
export function streamOfUnstreamedEvent(eventId: string): string {
  return `${UNSTREAMED_PREFIX}${eventId}`;
}

/** Prefix of the streams of stream-less events. */
export const UNSTREAMED_PREFIX = '$event-';
