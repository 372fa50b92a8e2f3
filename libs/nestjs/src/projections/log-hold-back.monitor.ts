import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  type BlockingTransaction,
  type EventStore,
  InvalidOptionsError,
  type OldestWriteTransaction,
} from '@eventcore/core';
import type { EventCoreModuleOptions } from '../eventcore-module.options';
import { EVENTCORE_MODULE_OPTIONS } from '../eventcore.module-definition';
import { InjectEventStore } from '../inject-event-store.decorator';

/** How the module watches for a log held back by an open transaction (`projections.heldBack`). */
export interface LogHoldBackOptions {
  /**
   * Held back at least this long is a stall: the module logs a warning naming the blocking
   * transaction, once per episode, and again once when it ends.
   * @default 30
   */
  readonly warnAfterSeconds?: number;
  /** How often the store is asked (one small statement). @default 5000 */
  readonly checkIntervalMs?: number;
}

/** The latest answer of a store that can tell (see {@link LogHoldBackMonitor.latest}). */
export interface LogHoldBackStatus {
  /**
   * Seconds the first committed event that subscribers cannot read yet has waited; 0 when none
   * waits. Every subscriber of the database server is held back, whatever its database.
   */
  readonly heldBackSeconds: number;
  /** The oldest open write transaction, or "unknown" when the store's role cannot see it. */
  readonly blocking: OldestWriteTransaction;
  /** When the store answered (ISO 8601). */
  readonly checkedAt: string;
}

/**
 * What a store offers to say whether the log is held back (the PostgreSQL store does; the
 * in-memory one is never held back). Structural, so that this package never imports a driver.
 */
interface StoreWithHoldBack {
  logHoldBack(): Promise<{
    readonly heldBackSeconds: number;
    readonly blocking: OldestWriteTransaction;
  }>;
}

/**
 * Watches the gap-safe log for a stall: committed events that no subscriber can read because an
 * older write transaction — in any database of the server — is still open. Asks the store every
 * `checkIntervalMs` while the application runs; the projections health indicator and the
 * `eventcore.log.held_back.seconds` metric read its latest answer, and it logs one warning per
 * episode (when the hold-back passes `warnAfterSeconds`) and one line when the episode ends,
 * rather than one per poll. Does nothing for a store that cannot tell.
 */
@Injectable()
export class LogHoldBackMonitor {
  private readonly logger = new Logger('EventCore');
  private readonly store: StoreWithHoldBack | undefined;
  private readonly warnAfterSeconds: number;
  private readonly checkIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private status: LogHoldBackStatus | undefined;
  /** The sample that opened the episode in progress, if any. */
  private episode: LogHoldBackStatus | undefined;

  constructor(
    @InjectEventStore() store: EventStore,
    @Inject(EVENTCORE_MODULE_OPTIONS) options: EventCoreModuleOptions,
  ) {
    const heldBack = options.projections?.heldBack;
    const settings = heldBack === false ? undefined : heldBack;
    this.warnAfterSeconds = bounded('warnAfterSeconds', settings?.warnAfterSeconds ?? 30, 0);
    this.checkIntervalMs = bounded('checkIntervalMs', settings?.checkIntervalMs ?? 5_000, 100);
    this.store = heldBack === false || !canTell(store) ? undefined : store;
  }

  /** Whether the store can tell (and the monitor is not turned off). */
  get enabled(): boolean {
    return this.store !== undefined;
  }

  /** The latest answer; undefined before the first one, when the store cannot tell, or after a failed check. */
  latest(): LogHoldBackStatus | undefined {
    return this.status;
  }

  /** Starts checking (the orchestrator calls it on bootstrap). */
  start(): void {
    if (this.store === undefined || this.timer !== undefined) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.checkIntervalMs);
    this.timer.unref?.();
  }

  /** Stops checking; resolves once a check in flight has finished (before the store closes). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  /** Asks the store now (one check at a time) and logs the start or end of an episode. */
  check(): Promise<void> {
    this.checking ??= this.sample().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async sample(): Promise<void> {
    if (this.store === undefined) return;
    try {
      const { heldBackSeconds, blocking } = await this.store.logHoldBack();
      this.status = { heldBackSeconds, blocking, checkedAt: new Date().toISOString() };
    } catch {
      // The store's own health indicator reports an unreachable database; a stall is unknown then.
      this.status = undefined;
      return;
    }
    const stalled = this.status.heldBackSeconds >= this.warnAfterSeconds;
    if (stalled && this.episode === undefined) {
      this.episode = this.status;
      this.logger.warn(
        `Subscribers are held back: committed events have waited ${seconds(this.status.heldBackSeconds)} behind ${describeBlocking(this.status.blocking)}. ` +
          'Every projection and subscription on this database server waits until it commits or rolls back; end it, and set idle_in_transaction_session_timeout (see "A stalled log" in docs/operations.md).',
      );
    } else if (!stalled && this.episode !== undefined) {
      const began = Date.parse(this.episode.checkedAt) - this.episode.heldBackSeconds * 1000;
      this.episode = undefined;
      this.logger.log(
        `Subscribers are no longer held back (the stall lasted about ${seconds((Date.now() - began) / 1000)}).`,
      );
    }
  }
}

function canTell(store: EventStore): store is EventStore & StoreWithHoldBack {
  return typeof (store as Partial<StoreWithHoldBack>).logHoldBack === 'function';
}

/** The blocking transaction in words, for logs and health problems. */
export function describeBlocking(blocking: OldestWriteTransaction): string {
  if (!blocking.known) return `an open write transaction this role cannot see (${blocking.reason})`;
  if (blocking.transaction === null) return 'a write transaction that has just ended';
  return `the open write transaction ${describeTransaction(blocking.transaction)}`;
}

function describeTransaction(t: BlockingTransaction): string {
  return `pid ${t.pid} in database "${t.database ?? '?'}" (application "${t.applicationName ?? ''}", ${t.state ?? 'state unknown'}, open ${seconds(t.ageSeconds)})`;
}

function seconds(value: number): string {
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} s`;
}

function bounded(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidOptionsError(
      `projections.heldBack.${field}`,
      `use a number of at least ${min}, not ${String(value)}`,
    );
  }
  return value;
}
