import type { DomainEvent, RecordedEvent } from '../events/event';
import type { EventQuery, QueryItem } from '../store/event-query';
import type { StreamId } from '../store/stream-id';

/** Names of the properties of `C` that hold exactly one stream id (targets of `ctx.emit`). */
export type StreamProperty<C> = {
  [K in keyof C]-?: C[K] extends StreamId ? K : never;
}[keyof C] &
  string;

/**
 * The event types covered by the boundary query of command class `C`: the `T` of its
 * `@Boundary()` method's `EventQuery<T>` return type (found by that type, since a decorator cannot
 * name it); `never` for a command without one, `string` when `C` is not given or the query's
 * types are not literals.
 */
export type BoundaryEventType<C> = 0 extends 1 & C
  ? string
  : {
      [K in keyof C]-?: C[K] extends () => EventQuery<infer T> ? T : never;
    }[keyof C];

/** An event with DCB tags, as `ctx.append` takes it. */
export type TaggedEvent<E extends DomainEvent = DomainEvent> = E & {
  readonly tags: readonly string[];
};

/** An event emitted to a stream, optionally with DCB tags. */
export type StreamEvent<E extends DomainEvent = DomainEvent> = E & {
  readonly tags?: readonly string[];
};

/**
 * The events `ctx.append` accepts for command class `C`: the members of `E` whose type its
 * boundary query covers, with their tags.
 */
export type BoundaryEvent<E extends DomainEvent, C> = TaggedEvent<
  Extract<E, { readonly type: BoundaryEventType<C> }>
>;

/**
 * What a command's decision can do. Everything here is pure: time and ids come from the context so
 * that a decision can be replayed and tested without a store.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `any` lets an untyped context emit to any property name
export interface CommandContext<E extends DomainEvent = DomainEvent, C = any> {
  /**
   * Emits `event` to the stream held by the `@Stream()` property `stream`. In a command with a
   * boundary query, an event with tags must match that query.
   * @throws UncoveredEventError when the event has tags its command's query does not match.
   */
  emit(
    stream: StreamProperty<C>,
    event: StreamEvent<E>,
    custom?: Readonly<Record<string, unknown>>,
  ): void;
  /**
   * Emits `event` to a stream given by id (e.g. one of an array property or a discovered stream).
   * @throws UndeclaredStreamError when the stream is not in the boundary.
   * @throws UncoveredEventError when the event has tags its command's query does not match.
   */
  emitTo(
    streamId: StreamId,
    event: StreamEvent<E>,
    custom?: Readonly<Record<string, unknown>>,
  ): void;
  /**
   * Appends `event` in no stream (the DCB style): it is found by its type and tags. It must match
   * the command's boundary query, so that the append condition protects it; with the context
   * typed by the command class, only the event types of that query are accepted.
   * @throws UncoveredEventError when the query does not match it (widen the query first).
   * @throws InvalidCommandError when the command has no `@Boundary()` method.
   */
  append(event: BoundaryEvent<E, C>, custom?: Readonly<Record<string, unknown>>): void;
  /**
   * Rejects the command unless `condition` holds.
   * @param rule a stable identifier of the rule for callers (e.g. `account.insufficient_funds`).
   * @throws BusinessRuleViolationError (never retried).
   */
  require(condition: unknown, message: string, rule?: string): asserts condition;
  /**
   * Adds streams to the boundary. When any is new, the executor stops this decision, reads the
   * whole boundary again and decides again; so code after this call always sees those streams folded.
   */
  discover(...streamIds: StreamId[]): void;
  /**
   * Adds items to the boundary query (a command with a `@Boundary()` method only). When any is
   * new, the executor stops this decision, reads again with the widened query and decides again;
   * so code after this call always sees the events those items match folded, and may append them.
   * @throws InvalidCommandError when the command has no `@Boundary()` method.
   */
  widen(...items: QueryItem[]): void;
  /** The decision's time, fixed for one decision. */
  readonly now: Date;
  /** A fresh UUIDv7 for ids the decision needs. */
  newId(): string;
  /** The streams of the boundary, declared and discovered. */
  readonly boundary: readonly StreamId[];
  /** The boundary query, widened by `widen`; undefined for a command without `@Boundary()`. */
  readonly query: EventQuery | undefined;
}

/**
 * The logic of a command class (decorated with `@Command()`): how to fold its boundary into state
 * and how to decide. `apply` and `handle` must be pure and synchronous.
 */
export interface CommandLogic<S, E extends DomainEvent = DomainEvent> {
  /** The state before any event. */
  initialState(): S;
  /**
   * Folds one event into the state: every event of the streams in the boundary and every event
   * its query matches, each once, in global order.
   */
  apply(state: S, event: RecordedEvent<E>): S;
  /**
   * Decides: emits events or rejects with `ctx.require`. Type the context with the command class,
   * `ctx: CommandContext<MyEvent, MyCommand>`, so that `ctx.emit` only accepts its `@Stream()`
   * properties and `ctx.append` only the event types of its `@Boundary()` query.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command narrows it to its own class
  handle(state: S, ctx: CommandContext<E, any>): void;
  /**
   * Optional, for persisted snapshots of a state the snapshot store's serializer cannot hold as it
   * is (a `Map`, a `Set`, a `Date`, a `BigInt` under JSON): the state as plain data. Give
   * {@link fromSnapshot} too.
   */
  toSnapshot?(state: S): unknown;
  /** Optional: the state back from what {@link toSnapshot} returned (after the serializer's round trip). */
  fromSnapshot?(data: unknown): S;
}
