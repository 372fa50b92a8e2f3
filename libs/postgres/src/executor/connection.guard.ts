import { type Clock, StoreUnavailableError } from '@eventcore/core';
import { backoffDelay, type ResolvedRetryOptions } from '@eventcore/core/adapter';
import { CircuitBreaker, type ResolvedCircuitBreakerOptions } from './circuit-breaker';
import { SqlConnectionError } from './sql-executor';

/** Collaborators of {@link ConnectionGuard}; replace them in tests. */
export interface GuardEnvironment {
  readonly clock?: Clock;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/**
 * Runs store calls with retries of transient connection failures and a circuit breaker, and turns
 * connection failures into {@link StoreUnavailableError}. Never retries anything the database
 * answered (a conflict, a constraint violation): those pass through unchanged.
 *
 * A `read` is retried whenever the connection failed; a `write` only when the statement was
 * certainly not sent (failure while connecting), because a write whose connection broke in flight
 * may have committed, and running it again could write twice.
 */
export class ConnectionGuard {
  private readonly breaker: CircuitBreaker | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly retry: ResolvedRetryOptions,
    breaker: ResolvedCircuitBreakerOptions | false,
    environment: GuardEnvironment = {},
  ) {
    this.breaker = breaker === false ? undefined : new CircuitBreaker(breaker, environment.clock);
    this.sleep = environment.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = environment.random ?? Math.random;
  }

  /** State of the circuit, for health reports. */
  get circuit(): 'closed' | 'open' | 'half-open' | 'disabled' {
    return this.breaker?.state ?? 'disabled';
  }

  async call<T>(kind: 'read' | 'write', work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const admission = this.breaker?.admit() ?? { admitted: true, trial: false };
      if (!admission.admitted) {
        throw new StoreUnavailableError(
          `circuit open after ${this.breaker!.consecutiveFailures} consecutive connection failures; calls fail fast, the next trial call goes through in ${Math.ceil(admission.retryInMs)} ms`,
          'not-written',
          true,
        );
      }
      try {
        const result = await work();
        this.breaker?.succeeded();
        return result;
      } catch (error) {
        if (!(error instanceof SqlConnectionError)) {
          this.breaker?.succeeded(); // the database answered
          throw error;
        }
        this.breaker?.failed(admission.trial);
        const notSent = error.phase === 'connect' || kind === 'read';
        if (!notSent)
          throw new StoreUnavailableError(error.message, 'unknown', false, { cause: error });
        const circuitOpen = this.breaker !== undefined && this.breaker.state !== 'closed';
        if (attempt >= this.retry.maxAttempts || circuitOpen) {
          throw new StoreUnavailableError(error.message, 'not-written', circuitOpen, {
            cause: error,
          });
        }
        await this.sleep(backoffDelay(this.retry, attempt, this.random));
      }
    }
  }
}
