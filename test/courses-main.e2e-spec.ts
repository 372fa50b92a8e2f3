import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { spawnTs, type TsProcess } from './support/ts-process';

/*
 * The course sample as `npm run start:courses` runs it (apps/courses/src/main.ts on the current
 * sources): the embedded PGlite default, the subscription limit and the benchmark protocol from the
 * environment. No PostgreSQL server is involved.
 */

const MAIN = 'apps/courses/src/main.ts';
/** PGlite creates its database on first start: tens of seconds on a busy 2-core machine. */
const START_MS = 240_000;

describe('the course sample started from main.ts', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'eventcore-courses-'));
  const started: TsProcess[] = [];

  function courses(env: NodeJS.ProcessEnv): TsProcess {
    const proc = spawnTs(MAIN, [], {
      cwd,
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: undefined,
        EVENTCORE_DATA_DIR: undefined,
        EVENTCORE_DCB_PROTOCOL: undefined,
        COURSES_MAX_SUBSCRIPTIONS: undefined,
        ...env,
      },
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

  it('takes the limit and the protocol opt-in from the environment, and keeps its events in ./data/courses', async () => {
    const first = courses({
      COURSES_MAX_SUBSCRIPTIONS: '1',
      EVENTCORE_DCB_PROTOCOL: 'benchmarks-and-tests-only',
    });
    const url = await listening(first);
    expect(first.output()).toMatch(/\/read and \/append are open to anyone/);
    await request(url).post('/courses').send({ courseId: 'c1', capacity: 5 }).expect(201);
    await request(url).post('/courses').send({ courseId: 'c2', capacity: 5 }).expect(201);
    await request(url).post('/courses/c1/subscriptions').send({ studentId: 's1' }).expect(201);
    const limited = await request(url)
      .post('/courses/c2/subscriptions')
      .send({ studentId: 's1' })
      .expect(409);
    expect(limited.body.code).toBe('student.subscription_limit');
    const read = await request(url)
      .get('/read')
      .query({ query: JSON.stringify({ items: [{ tags: ['student:s1'] }] }) })
      .expect(200);
    expect(read.body).toEqual([
      {
        type: 'StudentSubscribedToCourse',
        tags: ['student:s1', 'course:c1'],
        data: { courseId: 'c1', studentId: 's1' },
        position: 3,
      },
    ]);
    await stop(first);

    // Restarted without the opt-in: the same events, and no protocol routes.
    const second = courses({});
    const again = await listening(second);
    expect((await request(again).get('/courses/c1').expect(200)).body).toMatchObject({
      students: ['s1'],
    });
    await request(again).get('/read').query({ query: '{"items":[]}' }).expect(404);
    await request(again).post('/courses/c2/subscriptions').send({ studentId: 's1' }).expect(201);
    await stop(second);
  }, 900_000);

  it('refuses to start with an opt-in or a limit it does not know', async () => {
    const open = courses({ EVENTCORE_DCB_PROTOCOL: 'yes' });
    expect(await open.exited()).toBe(1);
    expect(open.output()).toContain(
      'EVENTCORE_DCB_PROTOCOL must be "benchmarks-and-tests-only" (or unset), got "yes"',
    );
    const limit = courses({ COURSES_MAX_SUBSCRIPTIONS: 'many' });
    expect(await limit.exited()).toBe(1);
    expect(limit.output()).toContain('COURSES_MAX_SUBSCRIPTIONS must be an integer from 1 to');
  }, 120_000);
});
