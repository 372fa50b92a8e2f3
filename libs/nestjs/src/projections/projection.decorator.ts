import { Injectable, SetMetadata, applyDecorators } from '@nestjs/common';
import type { ProjectionErrorPolicy } from '@eventcore/core';
import { EVENTCORE_PROJECTION_METADATA } from '../eventcore.constants';

/** Options of {@link Projection}. */
export interface ProjectionOptions {
  /** Unique name: the checkpoint key, and the name used by `ProjectionRegistry`. */
  readonly name: string;
  /** Stream id prefixes to receive, e.g. `['account-']`. @default every stream */
  readonly streams?: readonly string[];
  /** Event types to receive. @default every type */
  readonly eventTypes?: readonly string[];
  /**
   * Whether to receive the events of archived streams (see `StreamArchiving`). `false` suits a
   * read model of live streams only: a rebuild then reads the hot events alone.
   * @default true
   */
  readonly includeArchived?: boolean;
  /** Most events per batch (one checkpoint commit each). @default 100 */
  readonly batchSize?: number;
  /**
   * While live, how long a batch short of `batchSize` waits for more events, so one commit serves
   * a burst of commands (catch-up and full batches never wait). 0 to 1000. @default 5
   */
  readonly batchWindowMs?: number;
  /** Retries, backoff, then `'fault'` or `'dead-letter'`. @default 3 retries from 100 ms, then 'fault' */
  readonly errorPolicy?: ProjectionErrorPolicy;
  /** Poll interval while live; store wake-ups make it mostly idle. @default 500 */
  readonly pollIntervalMs?: number;
}

/**
 * Marks a provider as a projection. The class must extend `ProjectionHost`; EventCoreModule finds
 * it at startup and runs it in a worker it owns (catch-up, then live). Also makes the class
 * `@Injectable()`, so list it in a module's `providers` and nothing more.
 *
 * ```ts
 * @Projection({ name: 'balances', streams: ['account-'] })
 * export class Balances extends ProjectionHost {
 *   async handle(event: RecordedEvent) { ... }
 * }
 * ```
 */
export function Projection(options: ProjectionOptions): ClassDecorator {
  return applyDecorators(SetMetadata(EVENTCORE_PROJECTION_METADATA, options), Injectable());
}

/**
 * Marks a provider as a process manager: like {@link Projection} (same options, same worker), for
 * a class that extends `ProcessManagerHost` and reacts to events by executing commands.
 */
export function ProcessManager(options: ProjectionOptions): ClassDecorator {
  return Projection(options);
}
