import { InvalidOptionsError, type RecordedEvent, type RetryOptions } from '@eventcore/core';
import type { ConnectionOptions } from 'nats';
import { checkSubjectPrefix } from './subject';

/** Options of `EventCoreNatsModule.forRoot`. */
export interface NatsForwarderOptions {
  /** NATS server URL(s), e.g. `'nats://127.0.0.1:4222'`. */
  readonly servers: string | readonly string[];
  /** The JetStream stream the events go to (letters, digits, `_` and `-`). */
  readonly stream: string;
  /** First token(s) of every subject: `<subjectPrefix>.<tenant>.<category>.<type>`. @default 'eventcore' */
  readonly subjectPrefix?: string;
  /** The forwarder's projection name: its checkpoint key and its name in `ProjectionRegistry`. @default 'nats-forwarder' */
  readonly name?: string;
  /**
   * The tenant token of an event's subject.
   * @default under `EventCoreModule.forRoot({ tenancy })`, the tenant the forwarder runs for (the
   *   tenant in context); otherwise `'default'`
   */
  readonly tenant?: (event: RecordedEvent) => string;
  /** Stream id prefixes to forward. @default every stream */
  readonly streams?: readonly string[];
  /** Event types to forward. @default every type */
  readonly eventTypes?: readonly string[];
  /** Most events per batch (one checkpoint commit each). @default 100 */
  readonly batchSize?: number;
  /**
   * Create the stream, capturing `<subjectPrefix>.>`, when it does not exist. Off: the stream must
   * exist and capture the subjects, or every publish fails (and is retried).
   * @default true
   */
  readonly createStream?: boolean;
  /** Duplicate window of a stream the forwarder creates (JetStream's own default is 2 minutes). @default 120000 */
  readonly duplicateWindowMs?: number;
  /** Longest wait for a connection and for each publish acknowledgement. @default 5000 */
  readonly timeoutMs?: number;
  /**
   * Waits between tries while NATS is unavailable or refuses a publish. There is no last attempt:
   * the forwarder never skips an event, it waits for NATS (`maxAttempts` and `timeoutMs` do not apply).
   * @default { initialDelayMs: 200, maxDelayMs: 10000, backoffFactor: 2, jitter: 0.2 }
   */
  readonly retry?: Omit<RetryOptions, 'maxAttempts' | 'timeoutMs'>;
  /** Further connection options (credentials, TLS, name); `servers`, `timeout` and `reconnect` are the forwarder's. */
  readonly connection?: Omit<ConnectionOptions, 'servers' | 'timeout' | 'reconnect'>;
}

/** The options with every default applied. */
export type ResolvedNatsForwarderOptions = Required<
  Omit<NatsForwarderOptions, 'streams' | 'eventTypes' | 'connection' | 'servers' | 'retry'>
> &
  Pick<NatsForwarderOptions, 'streams' | 'eventTypes' | 'connection'> & {
    readonly servers: readonly string[];
    readonly retry: Omit<RetryOptions, 'maxAttempts' | 'timeoutMs'>;
  };

const WHAT = 'EventCoreNatsModule options';

/**
 * Checks the options and applies the defaults.
 * @throws InvalidOptionsError naming the field and what to give instead.
 */
export function resolveForwarderOptions(
  options: NatsForwarderOptions,
): ResolvedNatsForwarderOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionsError(WHAT, 'give an object with at least servers and stream');
  }
  const servers = typeof options.servers === 'string' ? [options.servers] : options.servers;
  if (
    !Array.isArray(servers) ||
    servers.length === 0 ||
    !servers.every((s) => typeof s === 'string' && s.trim() !== '' && s.trim() === s)
  ) {
    throw new InvalidOptionsError(
      `${WHAT}.servers`,
      "give one or more NATS server URLs without surrounding spaces, e.g. 'nats://127.0.0.1:4222'",
    );
  }
  if (typeof options.stream !== 'string' || !/^[A-Za-z0-9_-]{1,255}$/.test(options.stream)) {
    throw new InvalidOptionsError(
      `${WHAT}.stream`,
      `${JSON.stringify(options.stream)} is not a JetStream stream name; use 1–255 letters, digits, _ or -`,
    );
  }
  const subjectPrefix = checkSubjectPrefix(
    options.subjectPrefix ?? 'eventcore',
    `${WHAT}.subjectPrefix`,
  );
  const name = options.name ?? 'nats-forwarder';
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.:-]{1,100}$/.test(name)) {
    throw new InvalidOptionsError(`${WHAT}.name`, 'use 1–100 letters, digits or _ . : -');
  }
  const tenant = options.tenant ?? (() => 'default');
  if (typeof tenant !== 'function') {
    throw new InvalidOptionsError(`${WHAT}.tenant`, 'give a function from an event to its tenant');
  }
  if (options.createStream !== undefined && typeof options.createStream !== 'boolean') {
    throw new InvalidOptionsError(`${WHAT}.createStream`, 'give true or false');
  }
  const batchSize = options.batchSize ?? 100;
  checkInteger('batchSize', batchSize, 1, 10_000);
  const duplicateWindowMs = options.duplicateWindowMs ?? 120_000;
  checkInteger('duplicateWindowMs', duplicateWindowMs, 1_000, 7 * 24 * 3_600_000);
  const timeoutMs = options.timeoutMs ?? 5_000;
  checkInteger('timeoutMs', timeoutMs, 1, 600_000);
  const retry = {
    initialDelayMs: 200,
    maxDelayMs: 10_000,
    backoffFactor: 2,
    jitter: 0.2,
    ...options.retry,
  };
  for (const [field, value] of Object.entries(retry)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidOptionsError(
        `${WHAT}.retry.${field}`,
        `${String(value)} is not a number of 0 or more`,
      );
    }
  }
  return {
    servers,
    stream: options.stream,
    subjectPrefix,
    name,
    tenant,
    streams: options.streams,
    eventTypes: options.eventTypes,
    batchSize,
    createStream: options.createStream ?? true,
    duplicateWindowMs,
    timeoutMs,
    retry,
    connection: options.connection,
  };
}

function checkInteger(field: string, value: unknown, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw new InvalidOptionsError(
      `${WHAT}.${field}`,
      `${String(value)} is out of range; give an integer from ${min} to ${max}`,
    );
  }
}
