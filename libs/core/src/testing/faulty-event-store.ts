import {
  AppendConditionFailedError,
  ConcurrencyConflictError,
  StoreUnavailableError,
} from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import type {
  AppendOptions,
  EventQuery,
  EventQueryReadOptions,
  EventQueryReadResult,
} from '../store/event-query';
import type {
  AppendResult,
  EventStore,
  Position,
  ReadAllFilter,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamsResult,
  StreamWrite,
} from '../store/event-store';
import type { StreamId } from '../store/stream-id';
import { seededRandom } from './seeded-random';

/** Faults to inject; all optional. */
export interface FaultPlan {
  /**
   * 1-based numbers of the appends that fail as if a concurrent writer had won (nothing written):
   * with a ConcurrencyConflictError when the append has stream writes, else with an
   * AppendConditionFailedError when it has a condition. An append with neither cannot lose a
   * race, so it goes through.
   */
  readonly conflictOnAppends?: readonly number[];
  /** Added latency per call, in ms: a number, or [min, max] drawn from the seeded generator. */
  readonly latencyMs?: number | readonly [number, number];
  /** Probability (0–1) that a call fails with a StoreUnavailableError before reaching the store. */
  readonly failureRate?: number;
  /** Seed of the generator behind latency and failures; print it to replay a failing run. @default 1 */
  readonly seed?: number;
}

/**
 * Wraps an event store (the in-memory one by default) and injects faults: conflicts on chosen
 * appends, latency, random failures. Injected faults never reach the wrapped store, so nothing is
 * written by a failed call. Use it to test retries and error handling of commands and projections.
 */
export class FaultyEventStore implements EventStore {
  /** Appends attempted so far (injected failures included). */
  appendCalls = 0;
  /** Calls of any kind that failed because of an injected fault. */
  injectedFaults = 0;
  private readonly random: () => number;

  constructor(
    private readonly plan: FaultPlan = {},
    readonly inner: EventStore = new InMemoryEventStore(),
  ) {
    this.random = seededRandom(plan.seed ?? 1);
  }

  async readStreams(streamIds: readonly StreamId[]): Promise<ReadStreamsResult> {
    await this.beforeCall('readStreams');
    return this.inner.readStreams(streamIds);
  }

  async append(writes: readonly StreamWrite[], options?: AppendOptions): Promise<AppendResult> {
    const call = ++this.appendCalls;
    await this.beforeCall('append');
    if (this.plan.conflictOnAppends?.includes(call)) {
      // As the stores do: a version conflict is reported before a condition failure.
      if (writes.length > 0) {
        this.injectedFaults++;
        const read = await this.inner.readStreams(writes.map((w) => w.streamId));
        throw new ConcurrencyConflictError(
          writes.map((w) => ({
            streamId: w.streamId,
            expected: w.expected,
            actual: read.versions.get(w.streamId) ?? 0,
          })),
        );
      }
      const condition = options?.condition;
      if (condition !== undefined) {
        this.injectedFaults++;
        throw new AppendConditionFailedError(condition.failIfEventsMatch, condition.after);
      }
    }
    return this.inner.append(writes, options);
  }

  async read(query: EventQuery, options?: EventQueryReadOptions): Promise<EventQueryReadResult> {
    await this.beforeCall('read');
    return this.inner.read(query, options);
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    await this.beforeCall('readAll');
    return this.inner.readAll(options);
  }

  comparePositions(a: Position, b: Position): number {
    return this.inner.comparePositions(a, b);
  }

  async ping(): Promise<void> {
    await this.beforeCall('ping');
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  countAfter(after: Position | undefined, filter?: ReadAllFilter): Promise<number> {
    return this.inner.countAfter?.(after, filter) ?? Promise.resolve(0);
  }

  onAppended(listener: () => void): () => void {
    return this.inner.onAppended?.(listener) ?? (() => undefined);
  }

  private async beforeCall(operation: string): Promise<void> {
    const latency = this.plan.latencyMs;
    const ms =
      latency === undefined
        ? 0
        : typeof latency === 'number'
          ? latency
          : latency[0] + (latency[1] - latency[0]) * this.random();
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.plan.failureRate !== undefined && this.random() < this.plan.failureRate) {
      this.injectedFaults++;
      throw new StoreUnavailableError(
        `injected fault in ${operation} (seed ${this.plan.seed ?? 1})`,
      );
    }
  }
}
