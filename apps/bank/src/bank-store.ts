import type { EventStore } from '@eventcore/core';
import { createPGliteEventStore, createPostgresEventStore } from '@eventcore/postgres';

/** Where the bank keeps its events, and how it was chosen (for the startup log). */
export interface BankStore {
  readonly eventStore: EventStore;
  readonly description: string;
}

/**
 * The bank's event store from the environment: `DATABASE_URL` set → that PostgreSQL server;
 * unset → an embedded PGlite database in `EVENTCORE_DATA_DIR` (default `./data/bank`), durable
 * across restarts with nothing to install.
 */
export async function bankStoreFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<BankStore> {
  const url = env.DATABASE_URL?.trim();
  if (url) {
    const eventStore = await createPostgresEventStore({ connectionString: url });
    return { eventStore, description: `PostgreSQL at ${redact(url)}` };
  }
  const dataDir = env.EVENTCORE_DATA_DIR?.trim() || './data/bank';
  const eventStore = await createPGliteEventStore({ dataDir });
  return { eventStore, description: `embedded PGlite in ${dataDir}` };
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
