import type { StreamId } from '../store/stream-id';

/**
 * A domain event as a command emits it: a `type` discriminator and its `data`.
 * Declare your events as a union, e.g. `type BankEvent = { type: 'Deposited'; data: { amount: number } } | ...`.
 */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

/** Metadata every stored event carries. */
export interface EventMetadata {
  /** Shared by every event caused, directly or not, by one request. */
  readonly correlationId: string;
  /** Id of what caused this event: the command execution, or the event a process manager reacted to. */
  readonly causationId: string;
  /** The user on whose behalf the command ran, if known. */
  readonly userId: string | null;
  /** Application-defined fields; plain JSON. */
  readonly custom: Readonly<Record<string, unknown>>;
}

/** An event ready to be appended; ids and timestamps are chosen by the writer. */
export interface EventToAppend {
  /** UUIDv7, see {@link newEventId}. */
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: EventMetadata;
  /** ISO-8601 time at which the decision was taken, from the executor's clock. */
  readonly occurredAt: string;
  /** Version of the event's schema (for upcasting); defaults to 1. */
  readonly schemaVersion?: number;
  /**
   * How `data` is encoded. `json` (the default): `data` is a JSON value, stored queryable (jsonb).
   * Any other name (e.g. `msgpack`, see {@link EventSerializer}): `data` is the base64 of the bytes,
   * stored as bytes.
   */
  readonly encoding?: string;
  /**
   * DCB tags (dcb.events): strings by which an `EventQuery` finds the event, e.g.
   * `course:c1`. Validated like stream ids; no duplicates. @default none
   */
  readonly tags?: readonly string[];
}

/** The fields every stored event has, whatever its type. */
export interface RecordedEventBase {
  readonly id: string;
  readonly streamId: StreamId;
  /** 1-based position of the event in its stream. */
  readonly streamVersion: number;
  /**
   * Position in the global log; increases with commit order within one store. This is also the
   * DCB position (`AppendCondition.after`, `EventQueryReadOptions.from`).
   */
  readonly globalPosition: number;
  /** DCB tags, in the order they were given; empty when none. */
  readonly tags: readonly string[];
  readonly schemaVersion: number;
  /** `json` when absent; otherwise `data` is the base64 of bytes in that encoding (decoded by the `EventTypeRegistry`). */
  readonly encoding?: string;
  readonly metadata: EventMetadata;
  /** ISO-8601 time from the writer's clock. */
  readonly occurredAt: string;
  /** ISO-8601 time at which the store recorded the event. */
  readonly recordedAt: string;
}

/**
 * An event as stored: immutable, with its place in its stream and in the global log. Distributes
 * over a union of events, so `switch (event.type)` narrows `event.data`.
 */
export type RecordedEvent<E extends DomainEvent = DomainEvent> = E extends DomainEvent
  ? RecordedEventBase & { readonly type: E['type']; readonly data: E['data'] }
  : never;
