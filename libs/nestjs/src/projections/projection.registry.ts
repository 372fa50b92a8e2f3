import { Inject, Injectable } from '@nestjs/common';
import {
  type CheckpointStore,
  type DeadLetter,
  type EventStore,
  InvalidOptionsError,
  type Position,
  type ProjectionDefinition,
  ProjectionNotFoundError,
  type ProjectionStatus,
  ProjectionWaitTimeoutError,
  type ProjectionWorker,
} from '@eventcore/core';
import { EVENTCORE_CHECKPOINT_STORE } from '../eventcore.constants';
import { InjectEventStore } from '../inject-event-store.decorator';

/** Options of {@link ProjectionRegistry.waitFor}. */
export interface WaitForOptions {
  /** Projections that must pass the position. @default every registered projection */
  readonly projections?: readonly string[];
  /** How long to wait. @default 5000 */
  readonly timeoutMs?: number;
}

/** Options of {@link ProjectionRegistry.waitForLag}. */
export interface WaitForLagOptions extends WaitForOptions {
  /** Most unhandled events each projection may still have. */
  readonly maxLagEvents: number;
}

interface Entry {
  readonly worker: ProjectionWorker;
  readonly definition: ProjectionDefinition;
}

const DEFAULT_TIMEOUT_MS = 5_000;
/** How often waits re-check what no signal announces (lag, another instance's checkpoint). */
const POLL_MS = 25;

/**
 * The application's projections at run time: status, control (pause, resume, rebuild) and the
 * consistency levels readers choose from — eventual (read now), bounded staleness
 * ({@link waitForLag}) and read-your-writes ({@link waitFor}).
 * Every method that takes a name throws `ProjectionNotFoundError` for an unknown one.
 */
@Injectable()
export class ProjectionRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    @InjectEventStore() private readonly store: EventStore,
    @Inject(EVENTCORE_CHECKPOINT_STORE) private readonly checkpoints: CheckpointStore,
  ) {}

  /** Adds a worker; called by the module's orchestrator at startup, not by applications. */
  register(worker: ProjectionWorker, definition: ProjectionDefinition): void {
    this.entries.set(worker.name, { worker, definition });
  }

  /** Names of the registered projections, in discovery order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** A status snapshot of every projection. */
  list(): ProjectionStatus[] {
    return [...this.entries.values()].map((entry) => entry.worker.status());
  }

  /** A status snapshot of one projection. */
  get(name: string): ProjectionStatus {
    return this.entry(name).worker.status();
  }

  /** Starts a projection that is not running (when `projections.autoStart` is false). */
  start(name: string): void {
    this.entry(name).worker.start();
  }

  /**
   * Stops handling after the batch in flight (a retry's backoff is cut short); this instance keeps
   * the lease. Resolves with the new status (`paused`, or `faulted` when it was faulted).
   * @throws ProjectionNotActiveError (rejects) when the projection does not run on this instance:
   * another one holds its lock (`standby`), or it is not started here. Nothing is changed then.
   */
  pause(name: string): Promise<ProjectionStatus> {
    return this.entry(name).worker.pause();
  }

  /**
   * Resumes a paused or faulted projection (after fixing the cause of a fault). Resolves with the
   * status after the first batch it read since: `live`, `catching-up`, or `faulted` again when the
   * event still fails.
   * @throws ProjectionNotActiveError (rejects) when the projection does not run on this instance.
   */
  resume(name: string): Promise<ProjectionStatus> {
    return this.entry(name).worker.resume();
  }

  /**
   * Empties the read model (the projection's `reset`), forgets its checkpoint and replays from the
   * beginning. Resolves with the status once the reset is committed (`rebuilding`, or `paused` when
   * paused); the replay goes on in the background.
   * @throws ProjectionNotActiveError (rejects) when the projection does not run on this instance.
   */
  rebuild(name: string): Promise<ProjectionStatus> {
    return this.entry(name).worker.rebuild();
  }

  /** The events a `'dead-letter'` projection gave up on, oldest first. */
  async deadLetters(name: string): Promise<readonly DeadLetter[]> {
    this.entry(name);
    return this.checkpoints.deadLetters(name);
  }

  /**
   * Strong consistency (read-your-writes): resolves once every named projection's checkpoint is at
   * or after `position` (e.g. the `position` of a `CommandResult`). On an instance where the
   * projection stands by (it runs elsewhere), the durable checkpoint is what counts.
   * @throws InvalidPositionError for a position that is not this store's.
   * @throws ProjectionWaitTimeoutError naming the projections that did not get there in time.
   */
  async waitFor(position: Position, options: WaitForOptions = {}): Promise<void> {
    const entries = this.select(options.projections);
    const timeoutMs = timeoutOf(options);
    // A foreign or malformed token must fail here: inside a worker it would break every later batch.
    this.store.comparePositions(position, position);
    const deadline = Date.now() + timeoutMs;
    const pending = new Map(entries.map((entry) => [entry.worker.name, entry]));
    // The worker's push wakes us at once; the poll covers what it cannot see (another instance
    // running the projection, a checkpoint loaded on takeover).
    const cancel = new AbortController();
    const reached = new Map<string, Promise<void>>();
    for (const entry of entries) {
      const wait = entry.worker
        .waitFor(position, cancel.signal)
        .then(() => void pending.delete(entry.worker.name));
      wait.catch(() => undefined); // aborted on return, or the worker stopped: the poll decides
      reached.set(entry.worker.name, wait);
    }
    try {
      for (;;) {
        for (const entry of [...pending.values()]) {
          const at = await this.positionOf(entry);
          if (at !== undefined && this.store.comparePositions(at, position) >= 0) {
            pending.delete(entry.worker.name);
          }
        }
        if (pending.size === 0) return;
        const left = deadline - Date.now();
        if (left <= 0) throw new ProjectionWaitTimeoutError([...pending.keys()], timeoutMs);
        // A wait the worker refused (it stopped) is no signal: waking on it at once would turn
        // this loop into a busy one that starves the timers the worker needs to run again.
        const signals = [...pending.keys()].map((name) =>
          reached.get(name)!.catch(() => new Promise<void>(() => undefined)),
        );
        await napUntil(Math.min(POLL_MS, left), signals);
      }
    } finally {
      cancel.abort();
    }
  }

  /**
   * Bounded staleness: resolves once every named projection has at most `maxLagEvents` matching
   * events left to handle, measured now (not at the projection's last read) when the store can
   * count.
   * @throws ProjectionWaitTimeoutError naming the projections still lagging at the deadline.
   */
  async waitForLag(options: WaitForLagOptions): Promise<void> {
    const entries = this.select(options.projections);
    const timeoutMs = timeoutOf(options);
    const max = options.maxLagEvents;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new InvalidOptionsError('maxLagEvents', 'use an integer >= 0');
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lagging: string[] = [];
      for (const entry of entries) {
        if ((await this.lagEvents(entry)) > max) lagging.push(entry.worker.name);
      }
      if (lagging.length === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new ProjectionWaitTimeoutError(lagging, timeoutMs);
      await napUntil(Math.min(POLL_MS, left), []);
    }
  }

  private async lagEvents(entry: Entry): Promise<number> {
    if (this.store.countAfter === undefined) return entry.worker.status().lagEvents;
    // The worker's own figure dates from its last read; a live projection reads only when woken.
    return this.store.countAfter(await this.positionOf(entry), entry.definition.filter);
  }

  /** The projection's checkpoint: this worker's while it runs here, else the durable one. */
  private async positionOf(entry: Entry): Promise<Position | undefined> {
    const status = entry.worker.status();
    if (status.state === 'standby' || status.state === 'stopped' || status.state === 'starting') {
      return this.checkpoints.load(entry.worker.name);
    }
    return (status.position ?? undefined) as Position | undefined;
  }

  private select(names: readonly string[] | undefined): Entry[] {
    if (names === undefined) return [...this.entries.values()];
    return names.map((name) => this.entry(name));
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new ProjectionNotFoundError(name, this.names());
    return entry;
  }
}

function timeoutOf(options: WaitForOptions): number {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > 2 ** 31 - 1) {
    throw new InvalidOptionsError('timeoutMs', 'use a number of milliseconds from 0 to 2147483647');
  }
  return timeoutMs;
}

/** Sleeps `ms`, or less when one of `signals` settles first. */
async function napUntil(ms: number, signals: readonly Promise<unknown>[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), ...signals]);
  } finally {
    clearTimeout(timer);
  }
}
