import { Client, type ClientConfig } from 'pg';
import { describeFailure } from '../executor/connection-errors';
import { SqlConnectionError } from '../executor/sql-executor';

/**
 * How to open a connection of its own (outside the query pool): a connection string or a `pg`
 * client config. Locks and LISTEN need one because their state lives in the session.
 */
export type DedicatedConnection = string | ClientConfig;

/** Defaults for dedicated connections. @internal */
export const DEDICATED_CONNECT_TIMEOUT_MS = 5_000;

/**
 * Opens a dedicated `pg` client; an error on it later is reported to `onBroken` (never thrown,
 * which would crash the process: `pg` emits idle-connection errors as events).
 * @throws SqlConnectionError when the connection cannot be made.
 */
export async function openDedicatedClient(
  connection: DedicatedConnection,
  applicationName: string,
  onBroken: (error: unknown) => void,
): Promise<Client> {
  const config: ClientConfig =
    typeof connection === 'string' ? { connectionString: connection } : { ...connection };
  const client = new Client({
    connectionTimeoutMillis: DEDICATED_CONNECT_TIMEOUT_MS,
    keepAlive: true,
    application_name: applicationName,
    ...config,
  });
  // Until connected, failures come through the rejection; a listener keeps a stray event harmless.
  const ignore = () => undefined;
  client.on('error', ignore);
  try {
    await client.connect();
  } catch (error) {
    await closeDedicatedClient(client);
    throw new SqlConnectionError(describeFailure(error), 'connect', { cause: error });
  }
  client.off('error', ignore);
  client.on('error', onBroken);
  client.on('end', () => onBroken(new Error('connection ended')));
  return client;
}

/** Ends a dedicated client without letting a late error escape. */
export async function closeDedicatedClient(client: Client): Promise<void> {
  client.removeAllListeners();
  client.on('error', () => undefined);
  await client.end().catch(() => undefined);
}
