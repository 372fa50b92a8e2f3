import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { spawnTs, type TsProcess } from './support/ts-process';

/*
 * Issue 11: two bank processes started in one folder both ran on the embedded default database,
 * each acknowledged writes the other never saw, and a restart lost the writes of one of them. Now
 * the second one stops at startup with an error naming the folder and the process that holds it.
 * The bank runs as `node main` does (apps/bank/src/main.ts, on the current sources), without
 * DATABASE_URL; no PostgreSQL server is involved.
 */

const MAIN = 'apps/bank/src/main.ts';
/** PGlite creates its database on first start: tens of seconds on a busy 2-core machine. */
const START_MS = 240_000;

describe('two bank processes on one embedded data folder', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'eventcore-embedded-lock-'));
  const dataDir = join(cwd, 'data', 'bank');
  const started: TsProcess[] = [];

  function bank(): TsProcess {
    const proc = spawnTs(MAIN, [], {
      cwd,
      env: { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: undefined, EVENTCORE_DATA_DIR: undefined },
    });
    started.push(proc);
    return proc;
  }

  async function listening(proc: TsProcess): Promise<string> {
    return (await proc.outputMatching(/Listening on (http:\/\/\S+)/, START_MS))[1]!;
  }

  async function stop(proc: TsProcess): Promise<void> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill('SIGTERM');
    await proc.exited();
  }

  afterAll(async () => {
    for (const proc of started) await stop(proc);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('the second exits at startup naming the folder and the holder; the first keeps every write', async () => {
    const first = bank();
    const url = await listening(first);
    await request(url).post('/accounts').send({ accountId: 'alice', owner: 'Alice' }).expect(201);

    const second = bank();
    // Fails at once (rather than at the test's timeout) if the second one starts serving.
    const outcome = await Promise.race([
      second.exited().then((code) => ({ exited: code })),
      second.outputMatching(/Listening on/, START_MS).then(
        () => ({ listening: true }),
        () => new Promise<never>(() => undefined),
      ),
    ]);
    expect(outcome).toEqual({ exited: 1 });
    expect(second.output()).not.toContain('Listening on');
    expect(second.output()).toContain('EmbeddedDatabaseLockedError');
    expect(second.output()).toContain('eventcore.embedded_database_locked');
    expect(second.output()).toContain(
      `The embedded database in ${realpathSync(dataDir)} is in use by process ${first.child.pid}`,
    );

    // The first one was not disturbed, and after its shutdown the folder opens again with its data.
    await request(url).post('/accounts/alice/deposits').send({ amount: 42 }).expect(201);
    await stop(first);
    const third = bank();
    const again = await listening(third);
    const account = await request(again).get('/accounts/alice').expect(200);
    expect(account.body).toMatchObject({ owner: 'Alice', balance: 42, version: 2 });
  }, 900_000);
});
