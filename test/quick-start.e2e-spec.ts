import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';

const ROOT = resolve(__dirname, '..');

/** Starts the built bank the way `npm start` does, in `cwd`, and resolves with its URL. */
function startBank(
  cwd: string,
): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1' };
  delete env.DATABASE_URL;
  delete env.EVENTCORE_DATA_DIR;
  const child = spawn(process.execPath, [join(ROOT, 'dist/apps/bank/src/main.js')], { cwd, env });
  let output = '';
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bank did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening on (http:\/\/[^\s]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveStart({ url: match[1]!, child, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the bank exited with ${code}:\n${output}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * The README's first command on a fresh checkout: the built bank starts with no database and no
 * data folder, keeps its events in embedded PGlite under ./data/bank, and still has them after a
 * restart.
 */
describe('quick start: the bank on embedded PGlite', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'eventcore-quick-start-'));

  beforeAll(async () => {
    await promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT, timeout: 120_000 });
  }, 180_000);

  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('starts without a data folder, answers /health, and keeps events across a restart', async () => {
    const first = await startBank(cwd);
    try {
      await request(first.url).get('/health').expect(200);
      await request(first.url)
        .post('/accounts')
        .send({ accountId: 'alice', owner: 'Alice' })
        .expect(201);
      await request(first.url).post('/accounts/alice/deposits').send({ amount: 42 }).expect(201);
    } finally {
      await stop(first.child);
    }
    const second = await startBank(cwd);
    try {
      expect(second.output()).toContain('embedded PGlite in ./data/bank');
      const account = await request(second.url).get('/accounts/alice').expect(200);
      expect(account.body).toMatchObject({ owner: 'Alice', balance: 42, version: 2 });
    } finally {
      await stop(second.child);
    }
  }, 180_000);
});
