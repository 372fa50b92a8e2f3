import { InvalidOptionsError } from '../errors';

/** How the executor retries a command after a concurrency conflict (the only error it retries). */
export interface RetryPolicy {
  /** Most attempts in all, the first included. @default 10 */
  readonly maxAttempts: number;
  /** Delay before the second attempt, before jitter. @default 2 */
  readonly initialDelayMs: number;
  /** Upper bound of any one delay. @default 250 */
  readonly maxDelayMs: number;
  /** Growth of the delay per attempt. @default 2 */
  readonly backoffFactor: number;
  /** Share of each delay drawn at random, 0 (none) to 1 ("full jitter"). @default 1 */
  readonly jitter: number;
  /** Overall budget of one execution, all attempts and waits included. @default 30000 */
  readonly timeoutMs: number;
}

/** The defaults of {@link RetryPolicy}. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 10,
  initialDelayMs: 2,
  maxDelayMs: 250,
  backoffFactor: 2,
  jitter: 1,
  timeoutMs: 30_000,
});

/**
 * Merges policy layers (defaults, module, command, call), later ones winning, and validates the result.
 * @throws InvalidOptionsError naming the bad field.
 */
export function resolveRetryPolicy(...layers: (Partial<RetryPolicy> | undefined)[]): RetryPolicy {
  // A field given as `undefined` (e.g. `{ maxAttempts: config.maxAttempts }` with nothing configured)
  // means "not set here": it keeps the value of the layer below instead of erasing it.
  const defined = layers.map((layer) =>
    Object.fromEntries(Object.entries(layer ?? {}).filter(([, value]) => value !== undefined)),
  );
  const policy = Object.assign({}, DEFAULT_RETRY_POLICY, ...defined) as RetryPolicy;
  const check = (field: keyof RetryPolicy, ok: boolean, rule: string) => {
    if (!ok)
      throw new InvalidOptionsError(`retry.${field}`, `${rule}, got ${String(policy[field])}`);
  };
  check(
    'maxAttempts',
    Number.isSafeInteger(policy.maxAttempts) && policy.maxAttempts >= 1,
    'use an integer >= 1',
  );
  check('initialDelayMs', isFiniteAtLeast(policy.initialDelayMs, 0), 'use a number >= 0');
  check(
    'maxDelayMs',
    isFiniteAtLeast(policy.maxDelayMs, policy.initialDelayMs),
    'use a number >= initialDelayMs',
  );
  check('backoffFactor', isFiniteAtLeast(policy.backoffFactor, 1), 'use a number >= 1');
  check(
    'jitter',
    isFiniteAtLeast(policy.jitter, 0) && policy.jitter <= 1,
    'use a number from 0 to 1',
  );
  check('timeoutMs', isFiniteAtLeast(policy.timeoutMs, 1), 'use a number >= 1');
  return policy;
}

/** Delay before attempt `attempt + 1`, after `attempt` conflicts. `random` returns [0, 1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const base = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.backoffFactor ** (attempt - 1),
  );
  return base * (1 - policy.jitter) + base * policy.jitter * random();
}

function isFiniteAtLeast(value: unknown, min: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= min;
}
