import type { ProjectionLease } from '@eventcore/core';

/**
 * The bookkeeping every lease shares: held until released or lost, `onLost` listeners called once.
 * Subclasses supply how the underlying hold is given back.
 */
export abstract class LeaseBase implements ProjectionLease {
  private held = true;
  private readonly listeners: (() => void)[] = [];

  isHeld(): boolean {
    return this.held;
  }

  onLost(listener: () => void): void {
    if (!this.held) {
      // Lost before anyone listened: still tell the listener, or a worker would never notice.
      queueMicrotask(listener);
      return;
    }
    this.listeners.push(listener);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    this.listeners.length = 0;
    await this.giveBack();
  }

  /** Marks the lease lost (once), tells the listeners, then frees what it held. */
  protected lose(): void {
    if (!this.held) return;
    this.held = false;
    for (const listener of this.listeners.splice(0)) {
      try {
        listener();
      } catch {
        // A listener's failure must not keep the others from hearing about the loss.
      }
    }
    void this.giveBack().catch(() => undefined);
  }

  /** Gives the hold back to the database (unlock, delete the row) and frees resources. */
  protected abstract giveBack(): Promise<void>;
}
