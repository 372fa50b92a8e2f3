import type { DomainEvent, RecordedEvent } from '../events/event';
import type { StreamId } from '../store/stream-id';

/** Names of the properties of `C` that hold exactly one stream id (targets of `ctx.emit`). */
export type StreamProperty<C> = {
  [K in keyof C]-?: C[K] extends StreamId ? K : never;
}[keyof C] &
  string;

/**
 * What a command's decision can do. Everything here is pure: time and ids come from the context so
 * that a decision can be replayed and tested without a store.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `any` lets an untyped context emit to any property name
export interface CommandContext<E extends DomainEvent = DomainEvent, C = any> {
  /** Emits `event` to the stream held by the `@Stream()` property `stream`. */
  emit(stream: StreamProperty<C>, event: E, custom?: Readonly<Record<string, unknown>>): void;
  /**
   * Emits `event` to a stream given by id (e.g. one of an array property or a discovered stream).
   * @throws UndeclaredStreamError when the stream is not in the boundary.
   */
  emitTo(streamId: StreamId, event: E, custom?: Readonly<Record<string, unknown>>): void;
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
  /** The decision's time, fixed for one decision. */
  readonly now: Date;
  /** A fresh UUIDv7 for ids the decision needs. */
  newId(): string;
  /** The streams of the boundary, declared and discovered. */
  readonly boundary: readonly StreamId[];
}

/**
 * The logic of a command class (decorated with `@Command()`): how to fold its streams into state and
 * how to decide. `apply` and `handle` must be pure and synchronous.
 */
export interface CommandLogic<S, E extends DomainEvent = DomainEvent> {
  /** The state before any event. */
  initialState(): S;
  /** Folds one event (of any stream in the boundary, in global order) into the state. */
  apply(state: S, event: RecordedEvent<E>): S;
  /**
   * Decides: emits events or rejects with `ctx.require`. Type the context with the command class,
   * `ctx: CommandContext<MyEvent, MyCommand>`, so that `ctx.emit` only accepts its `@Stream()` properties.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command narrows it to its own class
  handle(state: S, ctx: CommandContext<E, any>): void;
}
