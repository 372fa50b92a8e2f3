import { execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';

/** Debian's PostgreSQL 15 binaries (`apt-get install postgresql-15`). */
const BIN = '/usr/lib/postgresql/15/bin';

/** A private PostgreSQL server started for one test file. */
export interface PostgresServer {
  readonly port: number;
  /** The temporary directory holding the data directory and the log; removed by {@link stop}. */
  readonly directory: string;
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (trust authentication). */
  url(database?: string): string;
  /** Milliseconds from `initdb` to the server accepting connections. */
  readonly startMs: number;
  /** Its log, for failure messages. */
  output(): string;
  /** Stops it (`pg_ctl stop -m fast`) and removes its data directory. */
  stop(): Promise<void>;
}

/** Whether the PostgreSQL 15 server binaries are installed. */
export function postgresBinariesInstalled(): boolean {
  return existsSync(join(BIN, 'initdb')) && existsSync(join(BIN, 'pg_ctl'));
}

/**
 * Starts a PostgreSQL 15 server of its own on a free port of 127.0.0.1: a temporary data
 * directory, trust authentication, `max_connections` of `maxConnections`, and no fsync (a test
 * server's data need not survive a crash of the machine). `initdb` and `pg_ctl` refuse to run as
 * root, so as root they run as the `postgres` OS user, which owns the directory.
 *
 * Stopped and removed when the test process exits, even by SIGKILL: a watchdog shell, detached
 * from this process, waits for it to disappear and then stops the server. Limits: the watchdog
 * polls once a second, a reused process id would keep it waiting, and a reboot leaves the
 * directory in the temporary folder.
 */
export async function startPostgresServer(
  settings: { readonly maxConnections?: number } = {},
): Promise<PostgresServer> {
  if (!postgresBinariesInstalled()) {
    throw new Error(`${BIN}/initdb is missing: apt-get install -y postgresql-15`);
  }
  const started = Date.now();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'eventcore-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const run = (binary: string, args: string[]) =>
    promisify(execFile)(
      asRoot ? 'runuser' : join(BIN, binary),
      asRoot ? ['-u', 'postgres', '--', join(BIN, binary), ...args] : args,
      { timeout: 60_000 },
    );
  const stopServer = [
    ...(asRoot ? ['runuser', '-u', 'postgres', '--'] : []),
    join(BIN, 'pg_ctl'),
    '-D',
    data,
    'stop',
    '-m',
    'fast',
  ];
  const watchdog = spawn(
    'sh',
    [
      '-c',
      // Waits for the test process to go, however it goes, then stops the server and cleans up.
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; shift; "$@" >/dev/null 2>&1; rm -rf "$DIR"',
      'watchdog',
      String(process.pid),
      ...stopServer,
    ],
    { detached: true, stdio: 'ignore', env: { ...process.env, DIR: dir } },
  );
  watchdog.unref();

  let port = 0;
  const stop = async () => {
    try {
      await promisify(execFile)(stopServer[0]!, stopServer.slice(1), { timeout: 30_000 });
    } catch {
      // Not running (a failed start), or already stopped.
    }
    if (watchdog.exitCode === null) watchdog.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const output = () => {
    try {
      return readFileSync(log, 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await run('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    port = await freePort();
    const options = [
      `-p ${port}`,
      "-c listen_addresses='127.0.0.1'",
      `-c unix_socket_directories='${dir}'`,
      `-c max_connections=${settings.maxConnections ?? 50}`,
      '-c fsync=off',
    ].join(' ');
    await run('pg_ctl', ['-D', data, '-l', log, '-o', options, '-w', '-t', '30', 'start']);
  } catch (error) {
    const text = output();
    await stop();
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${text}`, {
      cause: error,
    });
  }
  return {
    port,
    directory: dir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    startMs: Date.now() - started,
    output,
    stop,
  };
}
