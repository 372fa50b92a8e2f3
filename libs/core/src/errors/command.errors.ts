import { ErrorMessages } from './error-messages';
import { ErrorCodes, EventCoreError } from './eventcore.error';
import type { AppendConditionFailedError, ConcurrencyConflictError } from './store.errors';

/** One property of a command's input that failed validation. */
export interface PropertyFailure {
  /** Dotted path of the property, e.g. `amount` or `items.0.quantity`. */
  readonly property: string;
  readonly value: unknown;
  /** Failed constraints, keyed by constraint name (class-validator's `constraints`). */
  readonly constraints: Readonly<Record<string, string>>;
}

/** The command's input is invalid. Every failed property is listed; nothing was read or written. */
export class CommandValidationError extends EventCoreError {
  readonly code = ErrorCodes.commandValidation;
  constructor(
    readonly commandName: string,
    readonly failures: readonly PropertyFailure[],
  ) {
    super(
      ErrorMessages.commandValidation(
        commandName,
        failures
          .map((f) => `${f.property} (${Object.values(f.constraints).join('; ')})`)
          .join(', '),
      ),
    );
  }
}

/**
 * A class passed to the executor is not a usable command (not decorated, no streams, missing
 * methods, or properties that input validation would refuse on every call). A programming error,
 * never the caller's input: over HTTP it is a 500.
 */
export class InvalidCommandError extends EventCoreError {
  readonly code = ErrorCodes.invalidCommand;
  constructor(
    readonly commandName: string,
    reason?: string,
    /** The properties at fault, when the reason is about properties. */
    readonly properties?: readonly string[],
  ) {
    super(
      reason === undefined
        ? ErrorMessages.notACommand(commandName)
        : ErrorMessages.invalidCommandDefinition(commandName, reason),
    );
  }
}

/** The decision tried to write to a stream outside its boundary. Raised before anything is written. */
export class UndeclaredStreamError extends EventCoreError {
  readonly code = ErrorCodes.undeclaredStream;
  constructor(
    readonly commandName: string,
    readonly streamId: string,
  ) {
    super(ErrorMessages.undeclaredStream(commandName, streamId));
  }
}

/**
 * A command with a query boundary emitted an event its query does not match, so the append
 * condition would not protect it. A programming error; nothing was written.
 */
export class UncoveredEventError extends EventCoreError {
  readonly code = ErrorCodes.uncoveredEvent;
  constructor(
    readonly commandName: string,
    readonly eventType: string,
    readonly tags: readonly string[],
  ) {
    super(ErrorMessages.uncoveredEvent(commandName, eventType, tags));
  }
}

/** Dynamic stream discovery did not converge within `maxDiscoveryIterations`. */
export class StreamDiscoveryLimitError extends EventCoreError {
  readonly code = ErrorCodes.streamDiscoveryLimit;
  constructor(
    readonly commandName: string,
    readonly limit: number,
    readonly streamIds: readonly string[],
  ) {
    super(ErrorMessages.streamDiscoveryLimit(commandName, limit));
  }
}

/**
 * A business rule rejected the command (`ctx.require(condition, message, rule)`). Never retried.
 * `rule` is the application's own stable identifier (e.g. `account.insufficient_funds`).
 */
export class BusinessRuleViolationError extends EventCoreError {
  readonly code = ErrorCodes.businessRuleViolation;
  constructor(
    readonly commandName: string,
    readonly reason: string,
    readonly rule?: string,
  ) {
    super(ErrorMessages.businessRuleViolation(commandName, reason));
  }
}

/**
 * Concurrency conflicts (or, for a command with a boundary query, failed append conditions)
 * persisted through `retry.maxAttempts` attempts. `cause` is the last one.
 */
export class RetriesExhaustedError extends EventCoreError {
  readonly code = ErrorCodes.retriesExhausted;
  constructor(
    readonly commandName: string,
    readonly attempts: number,
    readonly lastConflict: ConcurrencyConflictError | AppendConditionFailedError,
  ) {
    super(ErrorMessages.retriesExhausted(commandName, attempts), { cause: lastConflict });
  }
}

/**
 * The command exceeded `retry.timeoutMs`. `outcome` is `not-written` when nothing was in flight and
 * `unknown` when the deadline passed during the append (use an idempotency key to retry safely).
 */
export class CommandTimeoutError extends EventCoreError {
  readonly code = ErrorCodes.commandTimeout;
  constructor(
    readonly commandName: string,
    readonly timeoutMs: number,
    readonly attempts: number,
    readonly outcome: 'not-written' | 'unknown',
  ) {
    super(ErrorMessages.commandTimeout(commandName, timeoutMs, outcome));
  }
}

/** The idempotency key was used before with different command input. */
export class IdempotencyKeyReuseError extends EventCoreError {
  readonly code = ErrorCodes.idempotencyKeyReuse;
  constructor(
    readonly commandName: string,
    readonly idempotencyKey: string,
  ) {
    super(ErrorMessages.idempotencyKeyReuse(commandName, idempotencyKey));
  }
}
