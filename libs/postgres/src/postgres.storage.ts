import { InMemoryProjectionLock, type ProjectionLock } from '@eventcore/core';
import type { PostgresEventStore } from './postgres.event-store';
import { createPGliteEventStore, createPostgresEventStore, openPGlite } from './postgres.factory';
import {
  createPGliteAppendNotifier,
  createPostgresAppendNotifier,
  type PostgresAppendNotifier,
} from './projection/postgres.append-notifier';
import {
  createPostgresCheckpointStore,
  type PostgresCheckpointStore,
} from './projection/postgres.checkpoint-store';
import { PostgresLeaseLock } from './projection/postgres.lease-lock';
import { PostgresProjectionLock } from './projection/postgres.projection-lock';
import { type PoolerMode, resolvePooler } from './postgres.options';

/** Everything EventCoreModule needs, on one PostgreSQL (or PGlite) database. */
export interface PostgresStorage {
  readonly eventStore: PostgresEventStore;
  /** Checkpoints in the same database: read models written through `tx` are exactly-once. */
  readonly checkpointStore: PostgresCheckpointStore;
  /**
   * A session advisory lock on a server (a lease row behind a transaction-mode pooler); an
   * in-process lock on PGlite (one process owns it).
   */
  readonly projectionLock: ProjectionLock;
  /** Where the events are, for a startup log line (the password is never included). */
  readonly description: string;
  /**
   * Closes what the module does not own: the LISTEN connection, the lock's connections, and the
   * embedded database. Call it after the application has shut down.
   */
  close(): Promise<void>;
}

/** Where {@link createPostgresStorage} keeps the events. */
export type PostgresStorageOptions =
  | {
      readonly connectionString: string;
      /**
       * `'transaction'` when `connectionString` points at a transaction-mode pooler (PgBouncer
       * `pool_mode = transaction`): no named prepared statements, no `statement_timeout` startup
       * parameter, projections elected by `PostgresLeaseLock` (a lease row; session locks do not
       * survive transaction pooling) and woken by polling only (LISTEN needs a session). See
       * `PostgresEventStoreOptions.pooler`.
       * @default 'none'
       */
      readonly pooler?: PoolerMode;
    }
  | { readonly dataDir: string };

/**
 * The event store, a checkpoint store and a projection lock on one database, with LISTEN/NOTIFY
 * wake-ups wired: `{ connectionString }` for a server (several app instances share the projections),
 * `{ dataDir }` for an embedded PGlite database (durable, one process). Pass the parts to
 * `EventCoreModule.forRoot({ eventStore, checkpointStore, projectionLock })`.
 * @throws InvalidOptionsError for an unknown `pooler`.
 */
export async function createPostgresStorage(
  options: PostgresStorageOptions,
): Promise<PostgresStorage> {
  if ('connectionString' in options && resolvePooler(options.pooler) === 'transaction') {
    return transactionPooledStorage(options.connectionString);
  }
  if ('connectionString' in options) {
    const url = options.connectionString;
    const eventStore = await createPostgresEventStore({ connectionString: url });
    const notifier = await createPostgresAppendNotifier(url, { schema: eventStore.schema });
    eventStore.useAppendNotifier(notifier);
    const projectionLock = new PostgresProjectionLock({
      connection: url,
      schema: eventStore.schema,
    });
    return {
      eventStore,
      checkpointStore: await createPostgresCheckpointStore(eventStore),
      projectionLock,
      description: `PostgreSQL at ${redact(url)}`,
      close: async () => {
        await projectionLock.close();
        await notifier.close();
      },
    };
  }
  // Locks the folder until db.close(): a second process (or a second storage here) is refused.
  const db = await openPGlite(options.dataDir);
  let eventStore: PostgresEventStore;
  let notifier: PostgresAppendNotifier;
  let checkpointStore: PostgresCheckpointStore;
  try {
    eventStore = await createPGliteEventStore({ db });
    notifier = await createPGliteAppendNotifier(db, { schema: eventStore.schema });
    eventStore.useAppendNotifier(notifier);
    checkpointStore = await createPostgresCheckpointStore(eventStore);
  } catch (error) {
    // Closing releases the folder's lock now rather than at the end of the process.
    await db.close().catch(() => undefined);
    throw error;
  }
  return {
    eventStore,
    checkpointStore,
    // PGlite is one process's database: an in-process lock is all the election there is.
    projectionLock: new InMemoryProjectionLock(),
    description: `embedded PGlite in ${options.dataDir}`,
    close: async () => {
      await notifier.close();
      await eventStore.close();
      await db.close();
    },
  };
}

/**
 * The storage behind a transaction-mode pooler: nothing that lives in a session. Projections take
 * a lease row over the store's own pool (`PostgresLeaseLock`: takeover after a crash waits for the
 * lease to expire, 15 s) and poll for new events; appends still NOTIFY, for listeners connected
 * directly to the server.
 */
async function transactionPooledStorage(url: string): Promise<PostgresStorage> {
  const eventStore = await createPostgresEventStore({
    connectionString: url,
    pooler: 'transaction',
  });
  const projectionLock = new PostgresLeaseLock(eventStore.sqlExecutor, {
    schema: eventStore.schema,
  });
  return {
    eventStore,
    checkpointStore: await createPostgresCheckpointStore(eventStore),
    projectionLock,
    description: `PostgreSQL through a transaction-mode pooler at ${redact(url)}`,
    close: () => projectionLock.close(),
  };
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable connection string)';
  }
}
