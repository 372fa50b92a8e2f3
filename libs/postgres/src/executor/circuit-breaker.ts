import type { Clock } from '@eventcore/core';
import { systemClock } from '@eventcore/core/adapter';
import type { CircuitBreakerOptions } from '../postgres.options';

/** {@link CircuitBreakerOptions} with every field filled in and checked. */
export type ResolvedCircuitBreakerOptions = Required<CircuitBreakerOptions>;

/** What {@link CircuitBreaker.admit} decided for one call. */
export type Admission =
  | { readonly admitted: true; readonly trial: boolean }
  | { readonly admitted: false; readonly retryInMs: number };

/**
 * Fails calls fast while the database is down instead of letting them pile up on connect
 * timeouts: closed → (N consecutive failures) → open → (cooldown) → half-open, where exactly one
 * trial call goes through; its success closes the circuit, its failure opens it again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private trialInFlight = false;

  constructor(
    private readonly options: ResolvedCircuitBreakerOptions,
    private readonly clock: Clock = systemClock,
  ) {}

  private now(): number {
    return this.clock.now().getTime();
  }

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.openedAt === undefined) return 'closed';
    return this.trialInFlight || this.now() - this.openedAt >= this.options.cooldownMs
      ? 'half-open'
      : 'open';
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  admit(): Admission {
    if (this.openedAt === undefined) return { admitted: true, trial: false };
    const waited = this.now() - this.openedAt;
    if (waited < this.options.cooldownMs) {
      return { admitted: false, retryInMs: this.options.cooldownMs - waited };
    }
    if (this.trialInFlight) return { admitted: false, retryInMs: 0 };
    this.trialInFlight = true;
    return { admitted: true, trial: true };
  }

  /** The call reached the database (whatever the database answered). */
  succeeded(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.trialInFlight = false;
  }

  /** The call could not reach the database. */
  failed(trial: boolean): void {
    this.failures++;
    if (trial) this.trialInFlight = false;
    if (trial || this.failures >= this.options.failureThreshold) this.openedAt = this.now();
  }
}
