import {
  InvalidOptionsError,
  type Position,
  type ReadStreamsResult,
  type RecordedEvent,
  type StreamId,
} from '@eventcore/core';

/** One read of several streams, before it is split among its callers. */
export interface StreamsRead {
  /** Events of every stream read, each stream in version order, merged by global position. */
  readonly events: readonly RecordedEvent[];
  readonly position: Position;
}

/** How reads of concurrent callers share queries. */
export interface ReadBatchingOptions {
  /**
   * Reads on the wire at once (each holds one connection). Two, not more: fewer, larger shared
   * queries cost less CPU per command (measured at 16 clients: 520 → 410 µs with 4 → 2).
   * @default 2
   */
  readonly maxInFlight?: number;
}

interface Pending {
  readonly ids: readonly StreamId[];
  resolve(result: ReadStreamsResult): void;
  reject(error: unknown): void;
}

/** Most callers served by one query. */
const MAX_READS_PER_QUERY = 64;

/**
 * Lets reads of concurrent callers share a query: while `maxInFlight` reads are on the wire, new
 * ones queue, and the next query reads the streams of all of them (one statement, so one snapshot
 * for all); each caller gets the events and versions of its own streams and the same position.
 * A lone read goes at once. A failed query fails every read it served.
 */
export class ReadBatcher {
  private queue: Pending[] = [];
  private inFlight = 0;
  private whenIdle: (() => void)[] = [];

  constructor(
    private readonly read: (ids: readonly StreamId[]) => Promise<StreamsRead>,
    private readonly maxInFlight: number,
  ) {}

  /** Reads `ids` (distinct), alone or with other callers' streams. */
  submit(ids: readonly StreamId[]): Promise<ReadStreamsResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ids, resolve, reject });
      this.pump();
    });
  }

  private notifyIdle(): void {
    if (this.inFlight > 0 || this.queue.length > 0) return;
    const waiters = this.whenIdle;
    this.whenIdle = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves once nothing is queued or on the wire (for a graceful close). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.whenIdle.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_READS_PER_QUERY);
      const ids = batch.length === 1 ? batch[0]!.ids : [...new Set(batch.flatMap((p) => p.ids))];
      this.inFlight++;
      this.read(ids)
        .then(
          (read) => {
            for (const pending of batch) pending.resolve(own(read, pending.ids, batch.length > 1));
          },
          (error: unknown) => {
            for (const pending of batch) pending.reject(error);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
          this.notifyIdle();
        });
    }
  }
}

/** The part of `read` that belongs to `ids`. */
function own(read: StreamsRead, ids: readonly StreamId[], shared: boolean): ReadStreamsResult {
  const versions = new Map<StreamId, number>(ids.map((id) => [id, 0]));
  const events: RecordedEvent[] = [];
  for (const event of read.events) {
    if (shared && !versions.has(event.streamId)) continue;
    if (shared) events.push(event);
    versions.set(event.streamId, event.streamVersion);
  }
  return { events: shared ? events : read.events, versions, position: read.position };
}

/** Resolves and checks the read batching options (`false`: every read on its own). */
export function resolveReadBatching(options: ReadBatchingOptions | false | undefined): number {
  if (options === false) return Number.MAX_SAFE_INTEGER;
  const value = options?.maxInFlight ?? 2;
  if (!Number.isSafeInteger(value) || value < 1 || value > 1000) {
    throw new InvalidOptionsError(
      'readBatching.maxInFlight',
      `use an integer from 1 to 1000, not ${String(value)}`,
    );
  }
  return value;
}
