import { randomUUID } from 'node:crypto';
import { InvalidOptionsError, type ProjectionLease, type ProjectionLock } from '@eventcore/core';
import type { SqlExecutor } from '../executor/sql-executor';
import { checkSchemaName, DEFAULT_SCHEMA, quoted } from '../schema/schema-name';
import { LeaseBase } from './lease';

/** Options of {@link PostgresLeaseLock}. */
export interface PostgresLeaseLockOptions {
  /** Schema of the event store (holds `projection_leases`). @default 'eventcore' */
  readonly schema?: string;
  /** How long a lease lasts without renewal; the takeover bound when a holder dies. @default 15000 */
  readonly ttlMs?: number;
  /** Renewal interval. @default a third of `ttlMs` */
  readonly renewMs?: number;
}

/**
 * One active instance per projection through a lease ROW (`projection, owner, expires_at`) renewed
 * by a heartbeat and taken by another instance once it has expired. Unlike
 * {@link PostgresProjectionLock} it needs no session state, so it works through transaction-mode
 * poolers (PgBouncer) and over the ordinary query pool.
 *
 * Expiry uses the server's clock only. The holder counts its lease lost as soon as `ttlMs` has
 * passed since it sent its last successful renewal (its own clock, durations only), which is never
 * later than the server lets another instance take it. Takeover after a crash waits for the
 * expiry: up to `ttlMs`. Checkpoint commits are fenced, so even a paused holder cannot commit
 * over a newer one.
 */
export class PostgresLeaseLock implements ProjectionLock {
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly sql: { take: string; renew: string; free: string };
  private readonly leases = new Set<RowLease>();

  constructor(
    private readonly executor: SqlExecutor,
    options: PostgresLeaseLockOptions = {},
  ) {
    const s = quoted(checkSchemaName(options.schema ?? DEFAULT_SCHEMA));
    this.ttlMs = options.ttlMs ?? 15_000;
    this.renewMs = options.renewMs ?? Math.floor(this.ttlMs / 3);
    if (!(this.ttlMs > 0) || !(this.renewMs > 0) || this.renewMs * 2 > this.ttlMs) {
      throw new InvalidOptionsError('ttlMs', 'use ttlMs > 0 and renewMs at most half of ttlMs');
    }
    const expiry = `now() + $3 * interval '1 millisecond'`;
    this.sql = {
      take: `INSERT INTO ${s}.projection_leases AS l (projection, owner, expires_at)
             VALUES ($1, $2, ${expiry})
             ON CONFLICT (projection) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
             WHERE l.expires_at < now() RETURNING 1 AS taken`,
      renew: `UPDATE ${s}.projection_leases SET expires_at = ${expiry}
              WHERE projection = $1 AND owner = $2 RETURNING 1 AS renewed`,
      free: `DELETE FROM ${s}.projection_leases WHERE projection = $1 AND owner = $2`,
    };
  }

  /** Takes the lease row if it is free or expired; `undefined` while another owner's is valid. */
  async tryAcquire(projection: string): Promise<ProjectionLease | undefined> {
    const owner = randomUUID();
    const sentAt = performance.now();
    const rows = await this.executor.query(this.sql.take, [projection, owner, this.ttlMs]);
    if (rows.length === 0) return undefined;
    const lease = new RowLease(this, projection, owner, sentAt);
    this.leases.add(lease);
    return lease;
  }

  /** Releases every lease this lock still holds (for shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.leases].map((lease) => lease.release()));
  }

  /** @internal */
  get settings() {
    return { ttlMs: this.ttlMs, renewMs: this.renewMs };
  }

  /** @internal True when the row is still ours (and now valid for another ttl). */
  async renew(projection: string, owner: string): Promise<boolean> {
    const rows = await this.executor.query(this.sql.renew, [projection, owner, this.ttlMs]);
    return rows.length > 0;
  }

  /** @internal */
  async free(lease: RowLease, projection: string, owner: string): Promise<void> {
    this.leases.delete(lease);
    await this.executor.query(this.sql.free, [projection, owner]);
  }
}

class RowLease extends LeaseBase {
  private readonly timer: NodeJS.Timeout;
  private renewing = false;

  constructor(
    private readonly lock: PostgresLeaseLock,
    private readonly projection: string,
    private readonly owner: string,
    /** When the last successful take or renewal was SENT: the row is valid until ttl after it, at least. */
    private confirmedAt: number,
  ) {
    super();
    this.timer = setInterval(() => void this.renew(), lock.settings.renewMs);
    this.timer.unref?.();
  }

  override isHeld(): boolean {
    if (super.isHeld() && performance.now() - this.confirmedAt >= this.lock.settings.ttlMs) {
      this.lose(); // expired unrenewed: someone else may hold it now
    }
    return super.isHeld();
  }

  protected async giveBack(): Promise<void> {
    clearInterval(this.timer);
    await this.lock.free(this, this.projection, this.owner).catch(() => undefined);
  }

  private async renew(): Promise<void> {
    if (this.renewing || !this.isHeld()) return;
    this.renewing = true;
    const sentAt = performance.now();
    try {
      if (await this.lock.renew(this.projection, this.owner)) this.confirmedAt = sentAt;
      else this.lose(); // taken over after an expiry we did not notice in time
    } catch {
      // Unreachable database: keep trying until the ttl runs out (isHeld then declares it lost).
      this.isHeld();
    } finally {
      this.renewing = false;
    }
  }
}
