import type { ProjectionContext, ProjectionHandler, RecordedEvent } from '@eventcore/core';

/**
 * Base class of every `@Projection()` provider. Extending it (rather than only matching the shape)
 * lets the module tell a projection from a mis-decorated class at startup.
 *
 * `Tx` is the checkpoint store's transaction: with a transactional (PostgreSQL) checkpoint store,
 * write the read model through `context.tx` and the change commits with the checkpoint
 * (exactly-once). Otherwise delivery is at-least-once: make `handle` idempotent.
 */
export abstract class ProjectionHost<Tx = unknown> implements ProjectionHandler<Tx> {
  /** Applies one event to the read model. Throwing triggers the projection's error policy. */
  abstract handle(event: RecordedEvent, context: ProjectionContext<Tx>): Promise<void> | void;

  /**
   * Optional: applies a whole batch at once (one multi-row statement instead of one per event). When
   * defined, the worker calls it instead of `handle` — with a single event while isolating a failure.
   */
  handleBatch?(
    events: readonly RecordedEvent[],
    context: ProjectionContext<Tx>,
  ): Promise<void> | void;

  /**
   * Optional: creates the read model's tables, idempotently (`CREATE TABLE IF NOT EXISTS`). Runs
   * under the projection's lock in one checkpoint-store transaction (`context.tx`), once per run
   * before the first batch and again after `reset` in a rebuild; a failure faults the projection.
   */
  setup?(context: ProjectionContext<Tx>): Promise<void> | void;

  /** Empties the read model before a rebuild, in the same transaction as the checkpoint reset. */
  reset?(context: ProjectionContext<Tx>): Promise<void> | void;

  /** Called each time the projection has caught up with the log. */
  onLive?(): Promise<void> | void;
}
