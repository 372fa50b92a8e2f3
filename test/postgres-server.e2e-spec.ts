import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { postgresBinariesInstalled, startPostgresServer } from './support/postgres-server';
import { spawnTs } from './support/ts-process';

/*
 * The private PostgreSQL server of test/support/postgres-server.ts: it answers on its port with the
 * configured settings, `stop()` removes it, and a test process that dies without cleaning up
 * (SIGKILL) still leaves no server and no directory behind.
 */

/** Whether a server accepts a connection on `port` of 127.0.0.1. */
async function answers(port: number): Promise<boolean> {
  const client = new Client({
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
    connectionTimeoutMillis: 2_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function suite(): void {
  it('serves on a free port with the given max_connections, and stop() removes it', async () => {
    const server = await startPostgresServer({ maxConnections: 12 });
    try {
      const client = new Client({ connectionString: server.url() });
      await client.connect();
      const { rows } = await client
        .query<{ max_connections: string }>('SHOW max_connections')
        .finally(() => client.end());
      expect(rows).toEqual([{ max_connections: '12' }]);
    } finally {
      await server.stop();
    }
    expect(await answers(server.port)).toBe(false);
    expect(existsSync(server.directory)).toBe(false);
  }, 60_000);

  it('is stopped and removed when the process that started it is SIGKILLed', async () => {
    const child = spawnTs('test/support/postgres-server.child.ts');
    const { port, directory } = await child.message<{ port?: number; directory?: string }>(
      (m) => typeof m.port === 'number',
    );
    expect(await answers(port!)).toBe(true);
    child.child.kill('SIGKILL');
    expect(await child.exited()).toBe('SIGKILL');
    // The watchdog polls once a second; stopping and removing take a moment more.
    for (let wait = 0; wait < 100 && (existsSync(directory!) || (await answers(port!))); wait++) {
      await sleep(100);
    }
    expect({ answers: await answers(port!), directory: existsSync(directory!) }).toEqual({
      answers: false,
      directory: false,
    });
  }, 60_000);
}

if (postgresBinariesInstalled()) {
  describe('a private PostgreSQL server for a test', suite);
} else if (process.env.CI === 'true') {
  describe('a private PostgreSQL server for a test', () => {
    it('needs the PostgreSQL 15 server binaries', () => {
      throw new Error(
        '/usr/lib/postgresql/15/bin/initdb is missing: apt-get install postgresql-15',
      );
    });
  });
} else {
  console.warn('SKIPPED "a private PostgreSQL server for a test": no PostgreSQL 15 binaries');
  describe.skip(
    'a private PostgreSQL server for a test [SKIPPED: no PostgreSQL 15 binaries]',
    suite,
  );
}
