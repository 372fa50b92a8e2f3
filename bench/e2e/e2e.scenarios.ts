import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@eventcore/postgres/testing';
import type { MeasuredRun, Scenario } from '../harness';
import type { LoadRequest, LoadResult } from './load';

/**
 * The 64 accounts a load spreads over, as in issue 17's measurement: a set of its own per load, so
 * that how long its streams grow depends on its own runs only (an app that took more deposits would
 * otherwise transfer between longer streams than its limit does).
 */
const accountsOf = (load: string) => Array.from({ length: 64 }, (_, i) => `${load}-${i}`);
/** Enough for every transfer of a run out of any one account. */
const FUNDS = 1_000_000_000;
/** Seconds of one measured load run (the warm-up run: 2). */
const RUN_SECONDS = 5;

type Target = 'pg' | 'pglite';
type App = 'bank' | 'raw';

/** One server process of a group of scenarios: started by the first, stopped by the last. */
interface Server {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * End-to-end scenarios (full bench only): the sample bank built in `dist`, over HTTP, with its
 * balances projection running and the recommended configuration, started as a child process on a
 * fresh PostgreSQL database (`pg`) or a fresh embedded PGlite folder (`pglite`, the bank's
 * default); beside it, on the same target, its limit: `raw-app.ts`, the same routes on the same
 * HTTP stack doing a plain read-then-insert. Autocannon drives both from a process of its own
 * (`load.ts`): deposits at 1 and 16 connections, transfers at 16, spread over 64 accounts. Figures
 * are requests answered 2xx per second, with the medians of the runs' p50 and p99 latencies; any
 * other answer fails the scenario.
 */
export function e2eScenarios(targets: readonly Target[]): Scenario[] {
  return targets.flatMap((target) => [...group(target, 'raw'), ...group(target, 'bank')]);
}

function group(target: Target, app: App): Scenario[] {
  let server: Server | undefined;
  const loads = [
    { work: 'deposit', connections: 1 },
    { work: 'deposit', connections: 16 },
    { work: 'transfer', connections: 16 },
  ] as const;
  return loads.map(({ work, connections }, i): Scenario => {
    const name = (a: App) => `e2e.${target}.${a}.${work}.c${connections}`;
    const accounts = accountsOf(`${work}-c${connections}`);
    return {
      name: name(app),
      unit: 'requests/s',
      concurrency: connections,
      runs: 3,
      ...(app === 'bank' && { rawLimit: name('raw') }),
      async setup() {
        if (i === 0) server = await start(target, app);
        await openAccounts(server!.url, accounts);
      },
      async run(quick): Promise<MeasuredRun> {
        const result = await load({
          url: server!.url,
          connections,
          seconds: quick ? 2 : RUN_SECONDS,
          work,
          accounts,
        });
        if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
          throw new Error(`${name(app)}: ${JSON.stringify(result)}`);
        }
        return {
          units: result.ok,
          seconds: result.seconds,
          latency: { p50Ms: result.p50Ms, p99Ms: result.p99Ms },
        };
      },
      async teardown() {
        if (i === loads.length - 1) await server?.stop();
      },
    };
  });
}

/** Starts the app on a fresh database and waits until it listens. */
async function start(target: Target, app: App): Promise<Server> {
  let database: TestDatabase | undefined;
  let folder: string | undefined;
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: String(port) };
  // Only the database chosen here: a DATABASE_URL of the caller's would turn PGlite into a server.
  for (const name of ['DATABASE_URL', 'EVENTCORE_DATA_DIR', 'RAW_DATABASE_URL', 'RAW_DATA_DIR']) {
    delete env[name];
  }
  if (target === 'pg') {
    database = await createTestDatabase();
    env[app === 'bank' ? 'DATABASE_URL' : 'RAW_DATABASE_URL'] = database.url;
  } else {
    folder = await mkdtemp(join(tmpdir(), `eventcore-e2e-${app}-`));
    env[app === 'bank' ? 'EVENTCORE_DATA_DIR' : 'RAW_DATA_DIR'] = folder;
  }
  const script =
    app === 'bank'
      ? join(__dirname, '..', '..', 'apps', 'bank', 'src', 'main.js')
      : join(__dirname, 'raw-app.js');
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  // A bench that fails half-way exits without teardowns: the server must not outlive it.
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
  const cleanUp = async () => {
    await stopProcess(child);
    await database?.drop();
    if (folder !== undefined) await rm(folder, { recursive: true, force: true });
  };
  try {
    await listening(child);
    const url = `http://127.0.0.1:${port}`;
    return { url, stop: cleanUp };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/** Opens and funds the accounts over HTTP (not measured). */
async function openAccounts(url: string, accounts: readonly string[]): Promise<void> {
  for (const id of accounts) {
    await post(url, '/accounts', { accountId: id, owner: `owner of ${id}` });
    await post(url, `/accounts/${id}/deposits`, { amount: FUNDS });
  }
}

/** Resolves once the child prints "Listening on" (as the bank logs it). */
function listening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`no "Listening on" in 60 s: ${output}`)),
      60_000,
    );
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('Listening on')) {
        clearTimeout(timer);
        // Keep draining: a full pipe would block the server's logging.
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve();
      }
    });
  });
}

async function post(url: string, path: string, body: object): Promise<void> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
}

/** One autocannon run in its own process (see `load.ts`). */
async function load(request: LoadRequest): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(__dirname, 'load.js'), JSON.stringify(request)],
    { timeout: (request.seconds + 60) * 1000 },
  );
  return JSON.parse(stdout) as LoadResult;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
