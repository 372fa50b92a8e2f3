/** Held while a projection runs on this instance; lost when its connection dies. */
export interface ProjectionLease {
  /** True while the lease is still held. */
  isHeld(): boolean;
  /** Calls `listener` once if the lease is lost (e.g. the database connection dropped). */
  onLost(listener: () => void): void;
  release(): Promise<void>;
}

/**
 * Elects the one instance that runs a projection. With several app instances on one database,
 * each projection's lease is held by exactly one of them; another takes over when it is lost.
 */
export interface ProjectionLock {
  /** Takes the lease if it is free; `undefined` when another instance holds it. */
  tryAcquire(projection: string): Promise<ProjectionLease | undefined>;
}

/** Leases within one process (several workers sharing one instance of this class). */
export class InMemoryProjectionLock implements ProjectionLock {
  private readonly held = new Map<string, InMemoryLease>();

  async tryAcquire(projection: string): Promise<ProjectionLease | undefined> {
    if (this.held.has(projection)) return undefined;
    const lease = new InMemoryLease(() => this.held.delete(projection));
    this.held.set(projection, lease);
    return lease;
  }

  /** Simulates a lost connection: the holder's lease is lost and the projection becomes free. */
  revoke(projection: string): void {
    this.held.get(projection)?.lose();
  }
}

class InMemoryLease implements ProjectionLease {
  private held = true;
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly free: () => void) {}

  isHeld(): boolean {
    return this.held;
  }

  onLost(listener: () => void): void {
    this.listeners.push(listener);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    this.free();
  }

  lose(): void {
    if (!this.held) return;
    this.held = false;
    this.free();
    for (const listener of this.listeners.splice(0)) listener();
  }
}
