import type { Position, ProjectionWorker } from '@eventcore/core';

/** One caller's share of a wait; `release` it whether or not the wait finished. */
export interface WaitTicket {
  readonly reached: Promise<void>;
  release(): void;
}

interface SharedWait {
  readonly reached: Promise<void>;
  refs: number;
  settled: boolean;
}

/**
 * Read-your-writes waits on one worker, shared by callers waiting for the same position.
 * `ProjectionWorker.forgetWaiter(position)` drops every waiter at that position, so a caller that
 * times out must not call it while another caller still waits there: the waits are counted and
 * the worker's waiter is forgotten only when the last caller leaves.
 */
export class PositionWaits {
  private readonly waits = new Map<string, SharedWait>();

  constructor(private readonly worker: ProjectionWorker) {}

  /** Joins (or opens) the wait for `position`. */
  acquire(position: Position): WaitTicket {
    const key = String(position);
    let wait = this.waits.get(key);
    if (wait === undefined) {
      const opened: SharedWait = {
        refs: 0,
        settled: false,
        reached: this.worker.waitFor(position).then(() => {
          opened.settled = true;
          if (this.waits.get(key) === opened) this.waits.delete(key);
        }),
      };
      wait = opened;
      this.waits.set(key, wait);
    }
    const shared = wait;
    shared.refs++;
    let released = false;
    return {
      reached: shared.reached,
      release: () => {
        if (released) return;
        released = true;
        shared.refs--;
        if (shared.refs > 0 || shared.settled) return;
        if (this.waits.get(key) === shared) this.waits.delete(key);
        this.worker.forgetWaiter(position);
      },
    };
  }

  /** How many positions are being waited for (for tests and leak checks). */
  get size(): number {
    return this.waits.size;
  }
}
