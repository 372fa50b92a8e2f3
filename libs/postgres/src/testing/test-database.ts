import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client, Pool, type PoolConfig } from 'pg';

/** The server the PostgreSQL tests use: `EVENTCORE_TEST_DATABASE_URL`, else the local one. */
export const ADMIN_URL =
  process.env.EVENTCORE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let reachable: boolean | undefined;

/**
 * Whether the test server answers. Checked synchronously (in a child process) because Jest
 * collects `describe` blocks synchronously, and a skipped suite must say so in its name.
 */
export function serverReachable(): boolean {
  if (reachable === undefined) {
    const script = `const { Client } = require(${JSON.stringify(require.resolve('pg'))});
      const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
      c.connect().then(() => c.end()).then(() => process.exit(0), () => process.exit(1));`;
    try {
      execFileSync(process.execPath, ['-e', script, ADMIN_URL], {
        stdio: 'ignore',
        timeout: 10_000,
      });
      reachable = true;
    } catch {
      reachable = false;
    }
  }
  return reachable;
}

/**
 * `describe` for suites that need the PostgreSQL server; without one, the suite is skipped loudly
 * (a warning and "SKIPPED" in its name) so that a green run never hides untested server code.
 */
export function describeWithServer(name: string, body: () => void): void {
  if (serverReachable()) {
    describe(name, body);
    return;
  }
  console.warn(
    `SKIPPED "${name}": no PostgreSQL server at ${redact(ADMIN_URL)} (set EVENTCORE_TEST_DATABASE_URL)`,
  );
  describe.skip(`${name} [SKIPPED: no PostgreSQL server at ${redact(ADMIN_URL)}]`, body);
}

/** A database created for one test file, dropped by `drop()`. */
export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** A pool on the database; ended by `drop()`. */
  pool(config?: PoolConfig): Pool;
  drop(): Promise<void>;
}

/** Creates `eventcore_test_<random>` on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `eventcore_test_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const pools: Pool[] = [];
  return {
    url: url.toString(),
    name,
    pool(config: PoolConfig = {}) {
      const pool = new Pool({ connectionString: url.toString(), ...config });
      pool.on('error', () => undefined);
      pools.push(pool);
      return pool;
    },
    async drop() {
      await Promise.all(pools.map((p) => (p.ended ? undefined : p.end())));
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function admin(sql: string): Promise<void> {
  const client = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
