import type { ProjectionLease, ProjectionLock } from '@eventcore/core';
import { InvalidOptionsError } from '@eventcore/core';
import type { Client } from 'pg';
import { checkSchemaName, DEFAULT_SCHEMA } from '../schema/schema-name';
import {
  closeDedicatedClient,
  type DedicatedConnection,
  openDedicatedClient,
} from './dedicated-connection';
import { LeaseBase } from './lease';

/**
 * First key of the projection locks' two-key advisory form; the store's other namespaces are
 * 0x45430001–3 ("EC" + a small number), see schema-name.ts.
 */
export const PROJECTION_LOCK_NAMESPACE = 0x45430004;

/** Options of {@link PostgresProjectionLock}. */
export interface PostgresProjectionLockOptions {
  /** How to open each lease's own connection (the pool's connection string or config). */
  readonly connection: DedicatedConnection;
  /** Schema of the event store; part of the lock key. @default 'eventcore' */
  readonly schema?: string;
  /** Interval of the `SELECT 1` that proves the connection is alive. @default 2000 */
  readonly heartbeatMs?: number;
  /**
   * Longest wait for a heartbeat's answer, and the server's `idle_session_timeout` for the lease's
   * connection: a holder cut off from the server loses its lease within this time, and the server
   * frees the lock for another instance within it too. @default 10000
   */
  readonly heartbeatTimeoutMs?: number;
}

/**
 * One active instance per projection through a SESSION advisory lock
 * (`pg_try_advisory_lock(namespace, hashtext(schema:projection))`) held on a dedicated connection
 * per lease — not a pool connection, which would be handed to other queries. The lock lives
 * exactly as long as that session: when the holder's process dies or its connection breaks, the
 * server drops the lock and another instance takes it at its next try.
 *
 * A heartbeat (`SELECT 1` every `heartbeatMs`) notices a broken connection and declares the lease
 * lost (`onLost`), so the worker stops writing. The server ends the session after
 * `heartbeatTimeoutMs` without a heartbeat (`idle_session_timeout`), which bounds takeover when a
 * holder is cut off without its TCP connection closing. Checkpoint commits are fenced anyway, so
 * a holder that has not yet noticed its loss cannot commit over the new one.
 *
 * Not behind a transaction-mode pooler (PgBouncer `pool_mode=transaction`): it hands each
 * transaction a different server session, so a session lock is taken and released by strangers.
 * Connect the lock directly to the server (or a session-mode pool), or use
 * {@link PostgresLeaseLock}. Two projection names whose hashes collide share one lock: they then
 * run on the same instance, never in parallel on two.
 */
export class PostgresProjectionLock implements ProjectionLock {
  private readonly schema: string;
  private readonly heartbeatMs: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly leases = new Set<SessionLease>();

  constructor(private readonly options: PostgresProjectionLockOptions) {
    this.schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
    this.heartbeatMs = options.heartbeatMs ?? 2_000;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10_000;
    if (!(this.heartbeatMs > 0) || !(this.heartbeatTimeoutMs >= 2 * this.heartbeatMs)) {
      throw new InvalidOptionsError(
        'heartbeatMs',
        'use heartbeatMs > 0 and heartbeatTimeoutMs at least twice heartbeatMs',
      );
    }
  }

  /**
   * Opens a connection and tries the lock on it; `undefined` (connection closed) when another
   * session holds it.
   * @throws SqlConnectionError when the database cannot be reached.
   */
  async tryAcquire(projection: string): Promise<ProjectionLease | undefined> {
    let lease: SessionLease | undefined;
    const client = await openDedicatedClient(
      { ...connectionConfig(this.options.connection), query_timeout: this.heartbeatTimeoutMs },
      'eventcore-projection-lock',
      () => lease?.connectionLost(),
    );
    try {
      // Ends the session if the heartbeat stops (holder frozen or cut off): the lock is freed.
      await client
        .query(`SET idle_session_timeout = ${Math.round(this.heartbeatTimeoutMs)}`)
        .catch(() => undefined); // before PostgreSQL 14: rely on TCP keepalive instead
      const key = `${this.schema}:${projection}`;
      const [row] = (
        await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
          [PROJECTION_LOCK_NAMESPACE, key],
        )
      ).rows;
      if (row?.locked !== true) {
        await closeDedicatedClient(client);
        return undefined;
      }
      lease = new SessionLease(client, key, this.heartbeatMs, () => this.leases.delete(lease!));
      this.leases.add(lease);
      return lease;
    } catch (error) {
      await closeDedicatedClient(client);
      throw error;
    }
  }

  /** Releases every lease this lock still holds (for shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.leases].map((lease) => lease.release()));
  }
}

class SessionLease extends LeaseBase {
  private readonly timer: NodeJS.Timeout;
  private beating = false;

  constructor(
    private readonly client: Client,
    private readonly key: string,
    heartbeatMs: number,
    private readonly forget: () => void,
  ) {
    super();
    this.timer = setInterval(() => void this.heartbeat(), heartbeatMs);
    this.timer.unref?.();
  }

  /** The connection broke or ended: the server has dropped (or will drop) the lock. */
  connectionLost(): void {
    this.lose();
  }

  protected async giveBack(): Promise<void> {
    clearInterval(this.timer);
    this.forget();
    await this.client
      .query('SELECT pg_advisory_unlock($1, hashtext($2))', [PROJECTION_LOCK_NAMESPACE, this.key])
      .catch(() => undefined); // a broken session has dropped it already; closing frees it anyway
    await closeDedicatedClient(this.client);
  }

  private async heartbeat(): Promise<void> {
    if (this.beating || !this.isHeld()) return;
    this.beating = true;
    try {
      await this.client.query('SELECT 1');
    } catch {
      this.lose();
    } finally {
      this.beating = false;
    }
  }
}

function connectionConfig(connection: DedicatedConnection) {
  return typeof connection === 'string' ? { connectionString: connection } : connection;
}
