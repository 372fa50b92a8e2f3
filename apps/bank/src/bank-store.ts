import {
  type CheckpointStore,
  type EventStore,
  InMemoryProjectionLock,
  type ProjectionLock,
} from '@eventcore/core';
import {
  createPGliteAppendNotifier,
  createPGliteEventStore,
  createPostgresAppendNotifier,
  createPostgresCheckpointStore,
  createPostgresEventStore,
  PostgresProjectionLock,
} from '@eventcore/postgres';
import type { BalanceReadModel } from './read-model/balance-read-model';
import { SqlBalanceReadModel } from './read-model/sql.balance-read-model';

/** Where the bank keeps its events and read model, and how it was chosen (for the startup log). */
export interface BankStore {
  readonly eventStore: EventStore;
  /** Checkpoints in the same database: the read model commits with them (exactly-once). */
  readonly checkpointStore: CheckpointStore;
  readonly projectionLock: ProjectionLock;
  /** The balances read model: tables in the same database. */
  readonly balances: BalanceReadModel;
  readonly description: string;
  /** Closes what the app does not own (LISTEN connection, lock connections, the PGlite database). */
  readonly onShutdown: () => Promise<void>;
}

/**
 * The bank's database from the environment: `DATABASE_URL` set → that PostgreSQL server, with a
 * session advisory lock so several bank instances share the projections; unset → an embedded PGlite
 * database in `EVENTCORE_DATA_DIR` (default `./data/bank`), durable across restarts with nothing to
 * install, one process, so an in-process lock. Either way the read model lives in the same
 * database as the checkpoints, and NOTIFY wakes the projections.
 */
export async function bankStoreFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<BankStore> {
  const url = env.DATABASE_URL?.trim();
  if (url) {
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
      balances: await SqlBalanceReadModel.create(eventStore.sqlExecutor),
      description: `PostgreSQL at ${redact(url)}`,
      onShutdown: async () => {
        await projectionLock.close();
        await notifier.close();
      },
    };
  }
  const dataDir = env.EVENTCORE_DATA_DIR?.trim() || './data/bank';
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create({ dataDir });
  const eventStore = await createPGliteEventStore({ db });
  const notifier = await createPGliteAppendNotifier(db, { schema: eventStore.schema });
  eventStore.useAppendNotifier(notifier);
  return {
    eventStore,
    checkpointStore: await createPostgresCheckpointStore(eventStore),
    // PGlite is one process's database: an in-process lock is all the election there is.
    projectionLock: new InMemoryProjectionLock(),
    balances: await SqlBalanceReadModel.create(eventStore.sqlExecutor),
    description: `embedded PGlite in ${dataDir}`,
    onShutdown: async () => {
      await notifier.close();
      await eventStore.close();
      await db.close();
    },
  };
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}
