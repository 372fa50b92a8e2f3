import type { RecordedEvent } from '../events/event';
import type { ReadAllFilter } from '../store/event-store';
import type { RetryOptions } from '../command/retry-options';

/** What a projection does when its handler throws. */
export interface ProjectionErrorPolicy {
  /**
   * Tries of a failing batch (and then of the failing event), the first included, and the waits
   * between them. `timeoutMs` does not apply.
   * @default { maxAttempts: 4, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 5000, jitter: 0 }
   */
  readonly retry?: Omit<RetryOptions, 'timeoutMs'>;
  /** After the last try: stop as `faulted` (until resumed) or record a dead letter and go on. @default 'fault' */
  readonly onFailure?: 'fault' | 'dead-letter';
}

/** Static description of a projection. */
export interface ProjectionDefinition {
  /** Unique name; the checkpoint key. */
  readonly name: string;
  /** Which events it receives. */
  readonly filter?: ReadAllFilter;
  /** Most events per batch (one transaction each). @default 100 */
  readonly batchSize?: number;
  /**
   * While live, how long a batch short of `batchSize` waits for more events before it is handled,
   * so that one transaction serves the commands of a burst instead of one each. Catch-up, rebuilds
   * and full batches never wait; `stop()` and `pause()` cut the wait short. 0 handles each wake-up
   * at once. From 0 to 1000. @default 5
   */
  readonly batchWindowMs?: number;
  readonly errorPolicy?: ProjectionErrorPolicy;
  /** Poll interval while live; wake-ups from the store make it mostly idle. @default 500 */
  readonly pollIntervalMs?: number;
}

/** Passed to a handler with each event. */
export interface ProjectionContext<Tx = unknown> {
  /** The checkpoint store's transaction: write the read model through it for exactly-once. */
  readonly tx: Tx;
}

/** The code of a projection. */
export interface ProjectionHandler<Tx = unknown> {
  /** Applies one event to the read model. Throwing triggers the error policy. */
  handle(event: RecordedEvent, context: ProjectionContext<Tx>): Promise<void> | void;
  /**
   * Optional: applies a whole batch at once (e.g. one multi-row statement instead of one per event);
   * when present the worker calls it instead of `handle`, with the events of one batch in log order
   * (a single event when it isolates a failure). It must apply all of them or throw.
   */
  handleBatch?(
    events: readonly RecordedEvent[],
    context: ProjectionContext<Tx>,
  ): Promise<void> | void;
  /**
   * Optional: creates what the read model needs (tables, indexes) — idempotently, e.g.
   * `CREATE TABLE IF NOT EXISTS`. The worker runs it under the projection's lock, in one transaction
   * of the checkpoint store, once per run before the first batch (each time it takes the lease),
   * and again right after `reset` in the rebuild's transaction. A failure follows the error
   * policy's retries, then faults the projection with a `ProjectionSetupError`.
   */
  setup?(context: ProjectionContext<Tx>): Promise<void> | void;
  /** Empties the read model before a rebuild (same transaction as the checkpoint reset). */
  reset?(context: ProjectionContext<Tx>): Promise<void> | void;
  /** Called each time the projection catches up with the log. */
  onLive?(): Promise<void> | void;
}

/** Where a projection is in its life. */
export type ProjectionState =
  'starting' | 'catching-up' | 'live' | 'paused' | 'faulted' | 'rebuilding' | 'standby' | 'stopped';

/** A snapshot of a projection's progress. */
export interface ProjectionStatus {
  readonly name: string;
  readonly state: ProjectionState;
  /** Checkpoint (position after the last handled event), or null before the first. */
  readonly position: string | null;
  /** Events matching the filter not yet handled (measured at the last page read). */
  readonly lagEvents: number;
  /** Age of the oldest unhandled event when behind; 0 when live. */
  readonly lagSeconds: number;
  readonly lastError: string | null;
  readonly handledEvents: number;
  readonly deadLetters: number;
}
