import { InvalidOptionsError } from '../errors';

/**
 * How an operation is retried: the one retry shape of EventCore, used by the command executor
 * (concurrency conflicts), the PostgreSQL store (transient connection failures) and projections
 * (failing handlers). Each field left out keeps the default of the place that uses it.
 */
export interface RetryOptions {
  /** Most attempts in all, the first included; 1 disables retries. */
  readonly maxAttempts?: number;
  /** Delay before the second attempt, before jitter. */
  readonly initialDelayMs?: number;
  /** Upper bound of any one delay. */
  readonly maxDelayMs?: number;
  /** Growth of the delay per attempt (2 doubles it). */
  readonly backoffFactor?: number;
  /** Share of each delay drawn at random, 0 (none) to 1 ("full jitter"). */
  readonly jitter?: number;
  /**
   * Overall budget of one operation, all attempts and waits included. Commands only: a connection
   * is bounded by `connectTimeoutMs`, and a projection retries until its attempts run out.
   */
  readonly timeoutMs?: number;
}

/** {@link RetryOptions} with every field filled in and checked. */
export type ResolvedRetryOptions = { readonly [K in keyof RetryOptions]-?: number };

/** Where a {@link RetryOptions} is used: its defaults, and the option's name in error messages. */
export interface RetryUse {
  /** e.g. `retry` or `errorPolicy.retry`. */
  readonly field: string;
  /** The values of the fields a caller leaves out. */
  readonly defaults: ResolvedRetryOptions;
  /** Whether `timeoutMs` means anything here; when not, giving it is an error. */
  readonly timeout: boolean;
}

/** The executor's retry of concurrency conflicts. */
export const COMMAND_RETRY: RetryUse = Object.freeze({
  field: 'retry',
  timeout: true,
  defaults: Object.freeze({
    maxAttempts: 10,
    initialDelayMs: 2,
    maxDelayMs: 250,
    backoffFactor: 2,
    jitter: 1,
    timeoutMs: 30_000,
  }),
});

/**
 * Merges retry layers over the defaults of `use` (e.g. module, command, call: later ones win) and
 * checks the result.
 * @throws InvalidOptionsError naming the bad field.
 */
export function resolveRetryOptions(
  use: RetryUse,
  ...layers: (RetryOptions | undefined)[]
): ResolvedRetryOptions {
  // A field given as `undefined` (e.g. `{ maxAttempts: config.maxAttempts }` with nothing configured)
  // means "not set here": it keeps the value of the layer below instead of erasing it.
  const defined = layers.map((layer) => {
    if (layer !== undefined && (typeof layer !== 'object' || layer === null)) {
      throw new InvalidOptionsError(use.field, `pass an object, got ${String(layer)}`);
    }
    return Object.fromEntries(
      Object.entries(layer ?? {}).filter(([, value]) => value !== undefined),
    );
  });
  if (!use.timeout && defined.some((layer) => 'timeoutMs' in layer)) {
    throw new InvalidOptionsError(
      `${use.field}.timeoutMs`,
      'it is not used here; leave it out (only command retries have an overall timeout)',
    );
  }
  const options = Object.assign({}, use.defaults, ...defined) as ResolvedRetryOptions;
  const check = (name: keyof ResolvedRetryOptions, ok: boolean, rule: string) => {
    if (!ok)
      throw new InvalidOptionsError(
        `${use.field}.${name}`,
        `${rule}, got ${String(options[name])}`,
      );
  };
  check(
    'maxAttempts',
    Number.isSafeInteger(options.maxAttempts) && options.maxAttempts >= 1,
    'use an integer >= 1',
  );
  check('initialDelayMs', isFiniteAtLeast(options.initialDelayMs, 0), 'use a number >= 0');
  check(
    'maxDelayMs',
    isFiniteAtLeast(options.maxDelayMs, options.initialDelayMs),
    'use a number >= initialDelayMs',
  );
  check('backoffFactor', isFiniteAtLeast(options.backoffFactor, 1), 'use a number >= 1');
  check(
    'jitter',
    isFiniteAtLeast(options.jitter, 0) && options.jitter <= 1,
    'use a number from 0 to 1',
  );
  if (use.timeout) check('timeoutMs', isFiniteAtLeast(options.timeoutMs, 1), 'use a number >= 1');
  return options;
}

/** Delay before attempt `attempt + 1`, after `attempt` failures. `random` returns [0, 1). */
export function backoffDelay(
  options: ResolvedRetryOptions,
  attempt: number,
  random: () => number,
): number {
  const base = Math.min(
    options.maxDelayMs,
    options.initialDelayMs * options.backoffFactor ** (attempt - 1),
  );
  return base * (1 - options.jitter) + base * options.jitter * random();
}

function isFiniteAtLeast(value: unknown, min: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= min;
}
