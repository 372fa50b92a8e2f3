import { ErrorMessages } from './error-messages';
import { ErrorCodes, EventCoreError } from './eventcore.error';

/** Another instance moved a projection's checkpoint: this one lost the lease and must stop. */
export class CheckpointMovedError extends EventCoreError {
  readonly code = ErrorCodes.checkpointMoved;
  constructor(readonly projection: string) {
    super(ErrorMessages.checkpointMoved(projection));
  }
}

/** No projection is registered under that name. */
export class ProjectionNotFoundError extends EventCoreError {
  readonly code = ErrorCodes.projectionNotFound;
  constructor(
    readonly projection: string,
    known: readonly string[],
  ) {
    super(ErrorMessages.projectionNotFound(projection, known.join(', ')));
  }
}

/** A read-your-writes wait ran out of time. */
export class ProjectionWaitTimeoutError extends EventCoreError {
  readonly code = ErrorCodes.projectionWaitTimeout;
  constructor(
    readonly projections: readonly string[],
    readonly timeoutMs: number,
  ) {
    super(ErrorMessages.projectionWaitTimeout(projections.join(', '), timeoutMs));
  }
}

/**
 * Pause, resume or rebuild was asked of a projection that does not run on this instance: another
 * instance holds its lock (`state` 'standby'), or it is not started here ('stopped'). Nothing changed.
 */
export class ProjectionNotActiveError extends EventCoreError {
  readonly code = ErrorCodes.projectionNotActive;
  constructor(
    readonly projection: string,
    readonly state: 'standby' | 'stopped',
    readonly action: 'paused' | 'resumed' | 'rebuilt',
  ) {
    super(ErrorMessages.projectionNotActive(projection, state, action));
  }
}

/** A projection's definition is invalid (name, batch size, error policy, host class). */
export class InvalidProjectionError extends EventCoreError {
  readonly code = ErrorCodes.invalidProjection;
  constructor(
    readonly projection: string,
    readonly reason: string,
  ) {
    super(ErrorMessages.invalidProjection(projection, reason));
  }
}

/**
 * A projection's `setup` step (creating its read-model tables) failed after the error policy's
 * retries: the projection is faulted until resumed. The original error is the `cause`.
 */
export class ProjectionSetupError extends EventCoreError {
  readonly code = ErrorCodes.projectionSetupFailed;
  constructor(
    readonly projection: string,
    cause: unknown,
  ) {
    super(
      ErrorMessages.projectionSetupFailed(
        projection,
        cause instanceof Error ? cause.message : String(cause),
      ),
      { cause },
    );
  }
}
