import { isDeepStrictEqual } from 'node:util';
import type { StreamId } from '../store/stream-id';
import {
  DEFAULT_SNAPSHOT_KEEP,
  DEFAULT_SNAPSHOT_PENDING,
  type SnapshotOptions,
  type SnapshotProblem,
} from './snapshot-options';
import type { SnapshotStore } from './snapshot-store';

/** A state the executor wants persisted, as it stood after a command. */
export interface SnapshotJob {
  /** The command class, for reporting an unserializable state once per class. */
  readonly owner: object;
  readonly commandName: string;
  readonly stateVersion: number;
  readonly fingerprint: string;
  /** In the executor's order; sorted here. */
  readonly boundary: readonly StreamId[];
  readonly versions: readonly number[];
  readonly state: unknown;
  readonly toSnapshot: ((state: unknown) => unknown) | undefined;
  readonly fromSnapshot: ((data: unknown) => unknown) | undefined;
}

/**
 * Writes snapshots in the background, one at a time, from a bounded queue: a command hands its
 * state over and returns; the round-trip check, the save and the prune run after its result has
 * been delivered, never inside its append and never awaited by it. A full queue drops new states
 * (a snapshot is an optimisation; the next cold command offers one again). Every failure goes to
 * `report`, never to a command.
 */
export class SnapshotWriter {
  private readonly queue: SnapshotJob[] = [];
  private running: Promise<void> | undefined;
  /** Command classes whose state was found unserializable, reported once each. */
  private readonly unserializable = new WeakSet<object>();
  private readonly keep: number;
  private readonly maxPending: number;
  private readonly report: (problem: SnapshotProblem) => void;
  private closed = false;

  constructor(
    private readonly store: SnapshotStore,
    options: Pick<SnapshotOptions, 'keep' | 'maxPending' | 'report'>,
  ) {
    this.keep = options.keep ?? DEFAULT_SNAPSHOT_KEEP;
    this.maxPending = options.maxPending ?? DEFAULT_SNAPSHOT_PENDING;
    this.report = options.report ?? warn;
  }

  /** Queues a state to be written; returns at once. */
  offer(job: SnapshotJob): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxPending) {
      this.tell({
        kind: 'dropped',
        commandName: job.commandName,
        message: `a snapshot of ${job.commandName} was dropped: ${this.maxPending} snapshots were already waiting to be written (raise snapshots.maxPending if the snapshot store is slow, or snapshot less often with a larger 'every')`,
      });
      return;
    }
    this.queue.push(job);
    this.running ??= this.run();
  }

  /** Reports a snapshot that could not be used. */
  undecodable(commandName: string, error: unknown): void {
    this.tell({
      kind: 'undecodable',
      commandName,
      message: `a stored snapshot of ${commandName} could not be decoded and was ignored (${(error as Error)?.message ?? String(error)}); the command folded its events instead. Bump the command's stateVersion if the state's shape changed`,
      error,
    });
  }

  /** Waits until every queued state is written (or reported). */
  async flush(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** Refuses new states and waits until the queued ones are written: shutdown drains the queue. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** Pending states, for tests and health. */
  get pending(): number {
    return this.queue.length;
  }

  private async run(): Promise<void> {
    // Start after the command's result has reached its caller.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
      await this.write(job);
    }
    this.running = undefined;
  }

  private async write(job: SnapshotJob): Promise<void> {
    const state = this.encode(job);
    if (state === undefined) return;
    const order = job.boundary.map((_, i) => i).sort((a, b) => compare(job.boundary, a, b));
    const boundary = order.map((i) => job.boundary[i]!);
    try {
      await this.store.save({
        commandName: job.commandName,
        boundary,
        versions: order.map((i) => job.versions[i]!),
        stateVersion: job.stateVersion,
        fingerprint: job.fingerprint,
        encoding: this.store.serializer.format,
        state,
      });
      await this.store.prune({ commandName: job.commandName, boundary }, this.keep);
    } catch (error) {
      this.tell({
        kind: 'save-failed',
        commandName: job.commandName,
        message: `a snapshot of ${job.commandName} could not be saved: ${(error as Error)?.message ?? String(error)}. Commands are unaffected; they fold more events until a snapshot is saved`,
        error,
      });
    }
  }

  /** The serialised state, or undefined when it does not survive the serializer unchanged. */
  private encode(job: SnapshotJob): Uint8Array | undefined {
    if (this.unserializable.has(job.owner)) return undefined;
    const serializer = this.store.serializer;
    let problem: unknown;
    try {
      const data = job.toSnapshot === undefined ? job.state : job.toSnapshot(job.state);
      const bytes = serializer.serialize(data);
      const back = serializer.deserialize(bytes);
      const restored = job.fromSnapshot === undefined ? back : job.fromSnapshot(back);
      if (isDeepStrictEqual(restored, job.state)) return bytes;
    } catch (error) {
      problem = error;
    }
    this.unserializable.add(job.owner);
    this.tell({
      kind: 'unserializable',
      commandName: job.commandName,
      message: `the state of ${job.commandName} is not snapshotted: it does not survive a round trip through the ${serializer.format} serializer unchanged${problem === undefined ? '' : ` (${(problem as Error)?.message ?? String(problem)})`}. Keep the state plain data, or give the command toSnapshot(state) and fromSnapshot(data) (a Map as an array of entries, a Date as its ISO string)`,
      ...(problem === undefined ? {} : { error: problem }),
    });
    return undefined;
  }

  private tell(problem: SnapshotProblem): void {
    try {
      this.report(problem);
    } catch {
      // A failing reporter must not break the writer, and nobody is left to tell.
    }
  }
}

function compare(boundary: readonly StreamId[], a: number, b: number): number {
  const x = boundary[a]!;
  const y = boundary[b]!;
  return x < y ? -1 : x > y ? 1 : 0;
}

function warn(problem: SnapshotProblem): void {
  process.emitWarning(problem.message, { type: 'EventCoreSnapshotWarning', code: problem.kind });
}
