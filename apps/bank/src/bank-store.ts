import type { CheckpointStore, EventStore, ProjectionLock } from '@eventcore/core';
import { createPostgresStorage, type PoolerMode } from '@eventcore/postgres';
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
 * The bank's database from the environment: `DATABASE_URL` set → that PostgreSQL server (several
 * bank instances share the projections); unset → an embedded PGlite database in
 * `EVENTCORE_DATA_DIR` (default `./data/bank`), durable across restarts with nothing to install.
 * Either way the read model lives in the same database as the checkpoints. `EVENTCORE_POOLER=transaction`
 * when `DATABASE_URL` points at a transaction-mode pooler (PgBouncer `pool_mode = transaction`).
 */
export async function bankStoreFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<BankStore> {
  const url = env.DATABASE_URL?.trim();
  const storage = await createPostgresStorage(
    url
      ? {
          connectionString: url,
          pooler: (env.EVENTCORE_POOLER?.trim() || undefined) as PoolerMode | undefined,
        }
      : { dataDir: env.EVENTCORE_DATA_DIR?.trim() || './data/bank' },
  );
  return {
    eventStore: storage.eventStore,
    checkpointStore: storage.checkpointStore,
    projectionLock: storage.projectionLock,
    // Its tables come from the projection's setup step, not from here.
    balances: new SqlBalanceReadModel(storage.eventStore.sqlExecutor),
    description: storage.description,
    onShutdown: () => storage.close(),
  };
}
