import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';

/** The shared NATS server of the tests: `EVENTCORE_TEST_NATS_URL`, else the local one. Never stopped by a test. */
export const NATS_URL = process.env.EVENTCORE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
/** Debian's nats-server, for the tests that need one of their own to stop and start. */
export const NATS_SERVER = '/usr/sbin/nats-server';

let reachable: boolean | undefined;

/** Whether NATS answers, checked synchronously (Jest collects `describe` blocks synchronously). */
export function natsReachable(): boolean {
  if (reachable === undefined) {
    const { hostname, port } = new URL(NATS_URL);
    const script = `const s = require('node:net').connect(${Number(port) || 4222}, ${JSON.stringify(hostname)});
      s.setTimeout(3000, () => process.exit(1));
      s.on('data', (d) => process.exit(String(d).startsWith('INFO') ? 0 : 1));
      s.on('error', () => process.exit(1));`;
    try {
      execFileSync(process.execPath, ['-e', script], { stdio: 'ignore', timeout: 10_000 });
      reachable = true;
    } catch {
      reachable = false;
    }
  }
  return reachable;
}

/**
 * `describe` for suites that need NATS with JetStream. Without it the suite is skipped loudly — except
 * in CI (`CI=true`), where that is a failure: NATS runs on this machine, so a missing one is a
 * broken setup, not a reason to go green.
 */
export function describeWithNats(name: string, body: () => void): void {
  if (natsReachable()) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs NATS', () => {
        throw new Error(
          `no NATS server at ${NATS_URL}: start nats-server -js (or set EVENTCORE_TEST_NATS_URL)`,
        );
      });
    });
    return;
  }
  console.warn(`SKIPPED "${name}": no NATS server at ${NATS_URL} (set EVENTCORE_TEST_NATS_URL)`);
  describe.skip(`${name} [SKIPPED: no NATS server at ${NATS_URL}]`, body);
}

/** A name no other test uses, for streams and consumers on the shared server. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Deletes the streams (ignoring ones already gone) and closes the connection. */
export async function deleteStreams(nc: NatsConnection, ...names: string[]): Promise<void> {
  const jsm = await nc.jetstreamManager();
  for (const name of names) await jsm.streams.delete(name).catch(() => undefined);
}

/** Polls `check` until it returns true. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A nats-server of the test's own, with JetStream in a temporary directory it keeps across restarts. */
export class PrivateNatsServer {
  private process: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  static async create(): Promise<PrivateNatsServer> {
    return new PrivateNatsServer(await freePort(), mkdtempSync(join(tmpdir(), 'eventcore-nats-')));
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts the server and resolves once it accepts a JetStream client. */
  async start(): Promise<void> {
    const child = spawn(
      NATS_SERVER,
      ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.process = child;
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`nats-server exited:\n${this.output}`);
        const nc = await connect({ servers: this.url, reconnect: false }).catch(() => undefined);
        if (nc === undefined) return false;
        const ok = await nc.jetstreamManager().then(
          () => true,
          () => false,
        );
        await nc.close();
        return ok;
      },
      20_000,
      `nats-server on port ${this.port}`,
    );
  }

  /** Stops the server (SIGTERM, then SIGKILL) and waits for its exit. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the server and removes its store directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
