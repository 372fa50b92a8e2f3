import type { RecordedEvent } from '@eventcore/core';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTs, type TsProcess } from '../../../../test/support/ts-process';
import { LOCK_FOLDER } from './directory-lock';

/*
 * The one-owner rule between real processes: each process runs store-process.fixture.ts on the
 * current sources. No PostgreSQL server is involved; the embedded database is PGlite.
 */

const FIXTURE = 'libs/postgres/src/embedded/store-process.fixture.ts';
/** Opening PGlite on a fresh folder takes tens of seconds on a busy 2-core machine. */
const OPEN_MS = 240_000;

interface Message {
  readonly pid: number;
  readonly event: 'ready' | 'opened' | 'refused' | 'appended' | 'read' | 'closed' | 'crashed';
  readonly code?: string;
  readonly message?: string;
  readonly error?: { dataDir: string; holder: { pid: number; thisProcess: boolean } };
  readonly events?: RecordedEvent[];
}

type Mode = 'store' | 'storage' | 'opener' | 'lock';

let root: string;
let dataDir: string;
const running: TsProcess[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'eventcore-lock-processes-'));
  dataDir = join(root, 'data');
});

afterEach(async () => {
  for (const proc of running.splice(0)) {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGKILL');
      await proc.exited();
    }
  }
  rmSync(root, { recursive: true, force: true });
});

/** Starts a fixture process and waits until it is ready to open (its modules are loaded). */
async function start(mode: Mode): Promise<TsProcess> {
  const proc = spawnTs(FIXTURE, [mode, dataDir]);
  running.push(proc);
  await proc.message<Message>((m) => m.event === 'ready');
  return proc;
}

function send(proc: TsProcess, command: object): void {
  proc.child.stdin!.write(`${JSON.stringify(command)}\n`);
}

/** Answers already returned by {@link ask}, per process: each command gets the next one. */
const consumed = new WeakMap<TsProcess, Set<Message>>();

/** Sends `command` and waits for its answer (the next message other than `ready`). */
async function ask(proc: TsProcess, command: object, timeoutMs = 60_000): Promise<Message> {
  const answered = consumed.get(proc) ?? new Set<Message>();
  consumed.set(proc, answered);
  send(proc, command);
  const answer = await proc.message<Message>(
    (m) => m.event !== 'ready' && !answered.has(m),
    timeoutMs,
  );
  answered.add(answer);
  if (answer.event === 'crashed') throw new Error(`the process crashed: ${answer.message}`);
  return answer;
}

/** Releases every process at once and returns what each answered to `open`. */
async function race(processes: TsProcess[]): Promise<Message[]> {
  for (const proc of processes) send(proc, { cmd: 'open' });
  return Promise.all(
    processes.map((proc) => proc.message<Message>((m) => m.event !== 'ready', OPEN_MS)),
  );
}

function expectOneWinner(outcomes: Message[]): Message {
  const winners = outcomes.filter((m) => m.event === 'opened');
  expect(winners).toHaveLength(1);
  const winner = winners[0]!;
  for (const loser of outcomes.filter((m) => m !== winner)) {
    expect(loser).toMatchObject({
      event: 'refused',
      code: 'eventcore.embedded_database_locked',
      error: { dataDir: realpathSync(dataDir), holder: { pid: winner.pid, thisProcess: false } },
    });
    expect(loser.message).toContain(
      `in ${realpathSync(dataDir)} is in use by process ${winner.pid}`,
    );
  }
  return winner;
}

function topRecordState(): string {
  const names = readdirSync(join(dataDir, LOCK_FOLDER))
    .filter((n) => n.endsWith('.json'))
    .sort();
  return JSON.parse(readFileSync(join(dataDir, LOCK_FOLDER, names.at(-1)!), 'utf8')).state;
}

describe('embedded directory lock between processes', () => {
  it('processes racing for a free folder: exactly one wins', async () => {
    const racers = await Promise.all([start('lock'), start('lock'), start('lock'), start('lock')]);
    expectOneWinner(await race(racers));
  }, 120_000);

  it('processes racing to recover the lock of a SIGKILLed holder: exactly one wins', async () => {
    const holder = await start('lock');
    expect((await ask(holder, { cmd: 'open' })).event).toBe('opened');
    const racers = await Promise.all([start('lock'), start('lock'), start('lock'), start('lock')]);
    holder.child.kill('SIGKILL');
    await holder.exited();
    expectOneWinner(await race(racers));
  }, 120_000);

  it('a process that exits without closing leaves the folder released', async () => {
    const holder = await start('lock');
    await ask(holder, { cmd: 'open' });
    send(holder, { cmd: 'exit' });
    expect(await holder.exited()).toBe(0);
    expect(topRecordState()).toBe('released');
  }, 120_000);

  it('a second process is refused; after SIGKILL the next one recovers every acknowledged event; close releases', async () => {
    // 1. The first process opens the store on a fresh folder and has three events acknowledged.
    const first = await start('store');
    expect((await ask(first, { cmd: 'open' }, OPEN_MS)).event).toBe('opened');
    const acknowledged = (await ask(first, { cmd: 'append', stream: 'account-1', count: 3 }))
      .events!;
    expect(acknowledged).toHaveLength(3);

    // 2. A second process, as the bank opens it (createPostgresStorage), is refused before
    // PGlite opens, naming the folder and the holder.
    const second = await start('storage');
    const refused = await ask(second, { cmd: 'open' }, OPEN_MS);
    expect(refused).toMatchObject({
      event: 'refused',
      code: 'eventcore.embedded_database_locked',
      error: { dataDir: realpathSync(dataDir), holder: { pid: first.child.pid } },
    });
    expect(await second.exited()).toBe(2);

    // 3. The holder dies without closing anything; the next process recovers the lock and finds
    // every acknowledged event.
    first.child.kill('SIGKILL');
    await first.exited();
    const third = await start('store');
    expect((await ask(third, { cmd: 'open' }, OPEN_MS)).event).toBe('opened');
    expect((await ask(third, { cmd: 'read', stream: 'account-1' })).events).toEqual(acknowledged);
    await ask(third, { cmd: 'append', stream: 'account-1', count: 1 });

    // 4. Closing releases: a process opening PGlite itself (openPGlite + the db option) gets in.
    expect((await ask(third, { cmd: 'close' })).event).toBe('closed');
    expect(await third.exited()).toBe(0);
    const fourth = await start('opener');
    expect((await ask(fourth, { cmd: 'open' }, OPEN_MS)).event).toBe('opened');
    const read = (await ask(fourth, { cmd: 'read', stream: 'account-1' })).events!;
    expect(read.map((e) => e.streamVersion)).toEqual([1, 2, 3, 4]);
    expect(read.slice(0, 3)).toEqual(acknowledged);
    await ask(fourth, { cmd: 'close' });
  }, 900_000);
});
