import type { PGliteInterface } from '@electric-sql/pglite';
import type { Position } from '@eventcore/core';
import { checkSchemaName, DEFAULT_SCHEMA, notificationChannel } from '../schema/schema-name';
import {
  closeDedicatedClient,
  type DedicatedConnection,
  openDedicatedClient,
} from './dedicated-connection';

/** A source of "events were appended" wake-ups, as `PostgresEventStore.onAppended` delegates to. */
export interface AppendNotifications {
  /** Calls `listener` after appends commit (with the position token, when known); returns an unsubscribe. */
  onAppended(listener: (position?: Position) => void): () => void;
}

/** One LISTEN registration: how the notifier hears a channel, on a server or on PGlite. */
export interface ListenSource {
  /**
   * Starts listening on `channel`. `onLost` is called at most once when the registration breaks
   * (connection lost); the notifier then opens a new one.
   */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onLost: (error: unknown) => void,
  ): Promise<{ close(): Promise<void> }>;
}

/** Options of {@link PostgresAppendNotifier}. */
export interface PostgresAppendNotifierOptions {
  /** Schema of the event store (names the channel). @default 'eventcore' */
  readonly schema?: string;
  /** First delay before reconnecting; doubles up to `maxReconnectDelayMs`. @default 100 */
  readonly reconnectDelayMs?: number;
  /** @default 5000 */
  readonly maxReconnectDelayMs?: number;
  /** Told about every lost or failed connection (logging). */
  readonly onError?: (error: unknown) => void;
}

/**
 * Hears the store's NOTIFY (sent by every committed append, from any process) and wakes listeners —
 * projection workers, which otherwise wait for their next poll. It keeps ONE dedicated connection
 * LISTENing (not a pool connection) and reconnects with backoff when it breaks; after each
 * (re)connect it wakes everyone once, since appends may have committed unheard. A wake-up is only
 * a hint: workers read the log anyway and keep polling as a fallback, so a lost notification costs
 * latency, never an event.
 *
 * Start it with `start()`, attach it with `store.useAppendNotifier(notifier)`, close it on shutdown.
 */
export class PostgresAppendNotifier implements AppendNotifications {
  private readonly channel: string;
  private readonly listeners = new Set<(position?: Position) => void>();
  private registration: { close(): Promise<void> } | undefined;
  private closed = false;
  private started: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly source: ListenSource,
    private readonly options: PostgresAppendNotifierOptions = {},
  ) {
    this.channel = notificationChannel(checkSchemaName(options.schema ?? DEFAULT_SCHEMA));
    this.delayMs = options.reconnectDelayMs ?? 100;
  }

  /**
   * Starts listening. Resolves once the first LISTEN is in place; if that fails it rejects, and
   * the notifier keeps retrying in the background (workers poll meanwhile).
   */
  start(): Promise<void> {
    this.started ??= this.connect(true);
    return this.started;
  }

  /** True while a LISTEN registration is in place. */
  get listening(): boolean {
    return this.registration !== undefined;
  }

  onAppended(listener: (position?: Position) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops listening and closes the dedicated connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.connecting?.catch(() => undefined);
    const registration = this.registration;
    this.registration = undefined;
    await registration?.close();
  }

  private connect(first: boolean): Promise<void> {
    const attempt = (async () => {
      let lost = false;
      // One attempt at a time (a reconnect is scheduled only after a loss), so `this.registration`
      // is this attempt's once set.
      const registration = await this.source.listen(
        this.channel,
        (payload) => this.notify(payload),
        (error) => {
          if (lost) return;
          lost = true;
          const current = this.registration;
          this.registration = undefined;
          void current?.close();
          this.options.onError?.(error);
          this.scheduleReconnect();
        },
      );
      if (this.closed || lost) {
        await registration.close();
        return;
      }
      this.registration = registration;
      this.delayMs = this.options.reconnectDelayMs ?? 100;
      // Appends may have committed while nobody listened: let every worker look once.
      if (!first) this.notify('');
    })();
    this.connecting = attempt;
    return attempt.catch((error: unknown) => {
      this.options.onError?.(error);
      this.scheduleReconnect();
      if (first) throw error;
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.maxReconnectDelayMs ?? 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed) void this.connect(false);
    }, delay);
    this.retryTimer.unref?.();
  }

  private notify(payload: string): void {
    const position = payload === '' ? undefined : (payload as Position);
    for (const listener of [...this.listeners]) {
      try {
        listener(position);
      } catch (error) {
        // One faulty listener must not starve the others of wake-ups.
        this.options.onError?.(error);
      }
    }
  }
}

/** LISTEN on a dedicated `pg` connection to a server. */
export function pgListenSource(connection: DedicatedConnection): ListenSource {
  return {
    async listen(channel, onNotify, onLost) {
      const client = await openDedicatedClient(connection, 'eventcore-listen', onLost);
      client.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      try {
        await client.query(`LISTEN "${channel}"`);
      } catch (error) {
        await closeDedicatedClient(client);
        throw error;
      }
      return { close: () => closeDedicatedClient(client) };
    },
  };
}

/** LISTEN on an embedded PGlite database (notifications from the same process). */
export function pgliteListenSource(db: PGliteInterface): ListenSource {
  return {
    async listen(channel, onNotify) {
      const unlisten = await db.listen(channel, onNotify);
      return {
        close: async () => {
          if (!db.closed) await unlisten().catch(() => undefined);
        },
      };
    },
  };
}

/**
 * A started notifier on a PostgreSQL server, over its own connection (`connection`: the same
 * connection string or config as the pool). Resolves even if the first LISTEN fails (it retries in
 * the background and projections poll meanwhile); `onError` hears about it.
 */
export async function createPostgresAppendNotifier(
  connection: DedicatedConnection,
  options: PostgresAppendNotifierOptions = {},
): Promise<PostgresAppendNotifier> {
  const notifier = new PostgresAppendNotifier(pgListenSource(connection), options);
  await notifier.start().catch(() => undefined);
  return notifier;
}

/** A started notifier on an embedded PGlite database. */
export async function createPGliteAppendNotifier(
  db: PGliteInterface,
  options: PostgresAppendNotifierOptions = {},
): Promise<PostgresAppendNotifier> {
  const notifier = new PostgresAppendNotifier(pgliteListenSource(db), options);
  await notifier.start();
  return notifier;
}
