import { InvalidOptionsError } from '@eventcore/core';

/** `tenancy.scheduler`: run tenants' projections in turns, a bounded number at a time. */
export interface TenantSchedulerOptions {
  /** Tenants whose projections run at the same time on this instance. @default 4 */
  readonly maxActiveTenants?: number;
  /** Longest turn of one tenant; a tenant still behind then yields its slot and queues again. @default 10000 */
  readonly maxTurnMs?: number;
  /**
   * How often every tenant of the directory is queued, so events written by other instances are
   * projected too (this instance queues a tenant itself after each of its commands). @default 30000
   */
  readonly sweepIntervalMs?: number;
}

/** What a turn reports: `false` when the tenant is still behind and wants another turn. */
export type TenantTurn = (tenantId: string, maxTurnMs: number) => Promise<boolean>;

/**
 * Runs tenants' projection turns from a queue with at most `maxActiveTenants` at a time, instead
 * of a worker and a timer per (tenant, projection) forever: a turn starts the tenant's workers,
 * lets them catch up, and stops them (releasing their leases). A tenant is queued once however
 * often it is marked, and never runs two turns at once.
 */
export class TenantProjectionScheduler {
  private readonly maxActive: number;
  private readonly maxTurnMs: number;
  private readonly sweepIntervalMs: number;
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    options: TenantSchedulerOptions,
    private readonly turn: TenantTurn,
    private readonly tenants: () => Promise<readonly string[]>,
    private readonly onError: (error: unknown) => void,
  ) {
    this.maxActive = bounded('maxActiveTenants', options.maxActiveTenants ?? 4, 1);
    this.maxTurnMs = bounded('maxTurnMs', options.maxTurnMs ?? 10_000, 10);
    this.sweepIntervalMs = bounded('sweepIntervalMs', options.sweepIntervalMs ?? 30_000, 100);
  }

  /** Tenants queued and running now, for health and metrics. */
  stats(): { queued: number; active: number; maxActive: number } {
    return { queued: this.queue.length, active: this.active.size, maxActive: this.maxActive };
  }

  /** Whether a turn of the tenant is running now. */
  isActive(tenantId: string): boolean {
    return this.active.has(tenantId);
  }

  /** Queues every tenant now and then every `sweepIntervalMs`. */
  start(): void {
    this.stopped = false;
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.sweepIntervalMs);
    this.timer.unref();
  }

  /** Queues a turn for the tenant (once, however often it is marked). */
  mark(tenantId: string): void {
    if (this.stopped || this.queued.has(tenantId)) return;
    this.queued.add(tenantId);
    this.queue.push(tenantId);
    this.pump();
  }

  /** Takes no more turns and waits for the running ones (which stop their workers). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.queue.length = 0;
    this.queued.clear();
    await Promise.allSettled(this.active.values());
  }

  private async sweep(): Promise<void> {
    try {
      for (const tenantId of await this.tenants()) this.mark(tenantId);
    } catch (error) {
      this.onError(error);
    }
  }

  private pump(): void {
    while (!this.stopped && this.active.size < this.maxActive) {
      // The first queued tenant without a turn running: a tenant marked during its own turn waits.
      const index = this.queue.findIndex((tenantId) => !this.active.has(tenantId));
      if (index < 0) return;
      const [tenantId] = this.queue.splice(index, 1) as [string];
      this.queued.delete(tenantId);
      const running = this.turn(tenantId, this.maxTurnMs).then(
        (done) => {
          if (!done) this.mark(tenantId);
        },
        (error: unknown) => this.onError(error),
      );
      this.active.set(
        tenantId,
        running.finally(() => {
          this.active.delete(tenantId);
          this.pump();
        }),
      );
    }
  }
}

function bounded(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidOptionsError(`tenancy.scheduler.${name}`, `use an integer >= ${min}`);
  }
  return value;
}
