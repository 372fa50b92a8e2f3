import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './free-port';

/** Debian's PgBouncer (`apt-get install pgbouncer`; `.ci/run` installs it when missing). */
const PGBOUNCER = '/usr/sbin/pgbouncer';

/** A PgBouncer started for one test file, in front of the test server. */
export interface PgBouncer {
  readonly port: number;
  /** `url` with its host and port replaced by PgBouncer's: the same database, through the pooler. */
  through(url: string): string;
  /** Its log, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Whether PgBouncer is installed (a missing one fails the suite that needs it, with this hint). */
export function pgbouncerInstalled(): boolean {
  try {
    execFileSync(PGBOUNCER, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts PgBouncer 1.18 in transaction pooling mode on a free port of 127.0.0.1, forwarding every
 * database to the server of `serverUrl` (trust authentication, as the test server). It refuses to
 * run as root, so as root it switches to `postgres` (its `-u` flag). Resolves once a query passes
 * through it.
 */
export async function startPgBouncer(
  serverUrl: string,
  settings: { readonly poolSize?: number } = {},
): Promise<PgBouncer> {
  if (!pgbouncerInstalled()) {
    throw new Error(`${PGBOUNCER} is missing: apt-get install -y pgbouncer (.ci/run does)`);
  }
  const server = new URL(serverUrl);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'eventcore-pgbouncer-'));
  // Read by PgBouncer after it has switched to the postgres user.
  chmodSync(dir, 0o755);
  const users = join(dir, 'users.txt');
  writeFileSync(users, `"${decodeURIComponent(server.username || 'postgres')}" ""\n`, {
    mode: 0o644,
  });
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${users}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      `default_pool_size = ${settings.poolSize ?? 20}`,
      // Sent by some clients at startup; `pg` sends none of it unless told to.
      'ignore_startup_parameters = extra_float_digits',
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const asRoot = process.getuid?.() === 0;
  const child = spawn(PGBOUNCER, asRoot ? ['-u', 'postgres', ini] : [ini], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const bouncer: PgBouncer = {
    port,
    through(url) {
      const routed = new URL(url);
      routed.hostname = '127.0.0.1';
      routed.port = String(port);
      return routed.toString();
    },
    output: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(child);
  void exited.then(() => running.delete(child));
  try {
    await untilItAnswers(bouncer.through(serverUrl), child);
  } catch (error) {
    await bouncer.stop();
    throw new Error(`PgBouncer did not start: ${(error as Error).message}\n${log}`, {
      cause: error,
    });
  }
  return bouncer;
}

/** PgBouncers still running when Jest exits without `afterAll`. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function untilItAnswers(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
