import { InvalidOptionsError } from '@eventcore/core';
import type { AppendRequest } from './sql/append-request';

/** The one row of `append_batch_v8`. */
export interface BatchRow {
  /** The appends (1-based) with a conflict or an archived stream: they wrote nothing. */
  r_failed: number[];
  /** The writes of the batch (1-based) with events for an archived stream. */
  r_archived: number[];
  /** Per write of the batch, its stream's version before the batch (bigint as text). */
  r_versions: (string | number)[];
  r_first_position: string | number | null;
  r_tx: string | null;
  r_recorded_at: string | null;
  /** The log's head, for a batch that wrote no event. */
  r_head_position: string | number | null;
}

/** What one append of a batch learns. */
export interface BatchedAppendOutcome {
  /** Its expectations failed, or it writes to an archived stream: it wrote nothing. */
  readonly conflict: boolean;
  /** Its writes (0-based, in its write order) with events for an archived stream. */
  readonly archivedWrites: readonly number[];
  /** Versions of its streams before the batch, in its write order. */
  readonly versionsBefore: readonly number[];
  /** Position of its first event; null when it wrote none. */
  readonly firstPosition: number | null;
  /** Position of the batch's last event; null when the batch wrote none. */
  readonly lastPositionOfBatch: number | null;
  readonly row: BatchRow;
}

/** How appends of concurrent callers share round trips. */
export interface AppendBatchingOptions {
  /** Batches on the wire at once (each holds one connection). @default 2 */
  readonly maxInFlight?: number;
  /** Most appends in one batch. @default 64 */
  readonly maxAppends?: number;
  /** Most events in one batch; a larger single append still goes, alone. @default 10000 */
  readonly maxEvents?: number;
}

/** Sends one batch and returns the rows of `append_batch_v8` (one). */
export type SendBatch = (requests: readonly AppendRequest[]) => Promise<BatchRow[]>;

interface Pending {
  readonly request: AppendRequest;
  readonly streams: readonly string[];
  /** Sent in a batch of its own: its earlier batch failed as a whole. */
  readonly alone: boolean;
  resolve(outcome: BatchedAppendOutcome): void;
  reject(error: unknown): void;
}

/**
 * Groups the appends of concurrent callers into batches (`append_batch_v8`): while
 * `maxInFlight` batches are on the wire, new appends queue, and the next batch takes every queued
 * append it can. A lone caller's append therefore goes at once, alone; under load, one round trip,
 * one transaction and one WAL flush serve many appends. Each append still succeeds or conflicts on
 * its own (the function decides per append).
 *
 * Two appends on one stream never share a batch, and an append waits while a batch on the wire
 * holds one of its streams (it would only wait for that batch's locks on the server, holding up its
 * own batch). Appends on a stream leave in the order they came.
 *
 * When a batch fails as a whole with an error of the database (say, a duplicate event id in one of
 * its appends), nothing of it was written: each of its appends is sent again alone, so that only
 * the faulty one fails. Any other failure (a broken connection: the outcome is unknown) is every
 * append's.
 */
export class AppendBatcher {
  private queue: Pending[] = [];
  /** Streams of the batches on the wire. */
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private whenIdle: (() => void)[] = [];

  constructor(
    private readonly send: SendBatch,
    private readonly wroteNothing: (error: unknown) => boolean,
    private readonly options: Required<AppendBatchingOptions>,
  ) {}

  /** Queues an append; resolves with its outcome once its batch has committed. */
  submit(request: AppendRequest, streams: readonly string[]): Promise<BatchedAppendOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, streams, alone: false, resolve, reject });
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
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return; // every queued append waits for a stream on the wire
      this.dispatch(batch);
    }
  }

  /** Takes the next batch off the queue, oldest first. */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const blocked = new Set(this.busy);
    let events = 0;
    for (const pending of this.queue) {
      const size = pending.request.events.length;
      const fits =
        pending.streams.every((s) => !blocked.has(s)) &&
        (batch.length === 0 ||
          (!pending.alone &&
            !batch[0]!.alone &&
            batch.length < this.options.maxAppends &&
            events + size <= this.options.maxEvents));
      if (fits) {
        batch.push(pending);
        events += size;
      } else {
        rest.push(pending);
      }
      // Taken or waiting, its streams are off limits to later appends of this batch.
      for (const s of pending.streams) blocked.add(s);
    }
    this.queue = rest;
    return batch;
  }

  private dispatch(batch: Pending[]): void {
    this.inFlight++;
    for (const pending of batch) for (const s of pending.streams) this.busy.add(s);
    this.send(batch.map((p) => p.request))
      .then(
        (rows) => settle(batch, rows),
        (error: unknown) => this.fail(batch, error),
      )
      .finally(() => {
        this.inFlight--;
        for (const pending of batch) for (const s of pending.streams) this.busy.delete(s);
        this.pump();
        this.notifyIdle();
      });
  }

  private fail(batch: Pending[], error: unknown): void {
    if (batch.length > 1 && this.wroteNothing(error)) {
      this.queue.unshift(...batch.map((p) => ({ ...p, alone: true })));
    } else {
      for (const pending of batch) pending.reject(error);
    }
  }
}

/** Resolves and checks the batching options (`false`: every append on its own). */
export function resolveAppendBatching(
  options: AppendBatchingOptions | false | undefined,
): Required<AppendBatchingOptions> {
  if (options === false) {
    return { maxInFlight: Number.MAX_SAFE_INTEGER, maxAppends: 1, maxEvents: 1 };
  }
  const limit = (name: keyof AppendBatchingOptions, fallback: number, max: number): number => {
    const value = options?.[name] ?? fallback;
    if (!Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new InvalidOptionsError(
        `appendBatching.${name}`,
        `use an integer from 1 to ${max}, not ${String(value)}`,
      );
    }
    return value;
  };
  return {
    maxInFlight: limit('maxInFlight', 2, 1000),
    maxAppends: limit('maxAppends', 64, 10_000),
    maxEvents: limit('maxEvents', 10_000, 1_000_000),
  };
}

function settle(batch: readonly Pending[], rows: readonly BatchRow[]): void {
  const row = rows[0];
  const writes = batch.reduce((n, p) => n + p.request.writeCount, 0);
  if (
    rows.length !== 1 ||
    !Array.isArray(row?.r_failed) ||
    !Array.isArray(row.r_archived) ||
    row.r_versions?.length !== writes
  ) {
    // Another function under the same name (a schema from elsewhere): fail, never guess.
    const error = new Error(
      `append_batch_v8 did not answer one row with a version per write (${writes}): is the schema at version 8?`,
    );
    for (const pending of batch) pending.reject(error);
    return;
  }
  const failed = new Set(row.r_failed);
  const archived = new Set(row.r_archived);
  // Positions were reserved consecutively, in event order, for the appends without conflict.
  let next = row.r_first_position === null ? 0 : Number(row.r_first_position);
  let write = 0;
  const outcomes = batch.map((pending, i) => {
    const writes = pending.request.writeCount;
    const versionsBefore = row.r_versions.slice(write, write + writes).map(Number);
    const archivedWrites: number[] = [];
    if (archived.size > 0) {
      for (let w = 0; w < writes; w++) if (archived.has(write + w + 1)) archivedWrites.push(w);
    }
    write += writes;
    const conflict = failed.has(i + 1);
    const count = pending.request.events.length;
    const firstPosition = conflict || count === 0 ? null : next;
    if (firstPosition !== null) next += count;
    return { conflict, archivedWrites, versionsBefore, firstPosition };
  });
  const lastPositionOfBatch = row.r_first_position === null ? null : next - 1;
  for (let i = 0; i < batch.length; i++) {
    batch[i]!.resolve({ ...outcomes[i]!, lastPositionOfBatch, row });
  }
}
