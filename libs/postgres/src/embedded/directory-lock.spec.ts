import { EmbeddedDatabaseLockedError, ErrorCodes } from '@eventcore/core';
import { spawn, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  LOCK_FOLDER,
  type LockRecord,
  lockEmbeddedDirectory,
  readProcStart,
} from './directory-lock';
import { embeddedFolder } from './pglite-lock';

let root: string;
let dataDir: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'eventcore-lock-'));
  dataDir = join(root, 'data');
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Puts a record in the folder as if another process had taken the lock. */
function plantRecord(record: Partial<LockRecord> | string, generation = 1): void {
  const folder = join(dataDir, LOCK_FOLDER);
  mkdirSync(folder, { recursive: true });
  const stat = statSync(dataDir, { bigint: true });
  const full: LockRecord = {
    state: 'held',
    pid: process.pid,
    host: hostname(),
    startedAt: '2020-01-01T00:00:00.000Z',
    dirId: `${stat.dev}:${stat.ino}`,
    nonce: 'planted',
    ...(typeof record === 'string' ? {} : record),
  };
  writeFileSync(
    join(folder, `${String(generation).padStart(12, '0')}.json`),
    typeof record === 'string' ? record : JSON.stringify(full),
  );
}

/** The highest record in the lock folder, as the next opener reads it. */
function topRecord(): LockRecord {
  const names = readdirSync(join(dataDir, LOCK_FOLDER))
    .filter((n) => n.endsWith('.json'))
    .sort();
  return JSON.parse(readFileSync(join(dataDir, LOCK_FOLDER, names.at(-1)!), 'utf8'));
}

/** A pid that was just used and is gone. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid;
}

function refusal(open: () => unknown): EmbeddedDatabaseLockedError {
  try {
    open();
  } catch (error) {
    if (error instanceof EmbeddedDatabaseLockedError) return error;
    throw error;
  }
  throw new Error('the second opener was not refused');
}

describe('lockEmbeddedDirectory', () => {
  it('creates the folder and refuses a second lock in the same process, naming folder and holder', () => {
    const lock = lockEmbeddedDirectory(dataDir);
    const error = refusal(() => lockEmbeddedDirectory(dataDir));
    expect(error.code).toBe(ErrorCodes.embeddedDatabaseLocked);
    expect(error.code).toBe('eventcore.embedded_database_locked');
    expect(error.dataDir).toBe(lock.dataDir);
    expect(error.holder).toMatchObject({ pid: process.pid, host: hostname(), thisProcess: true });
    expect(error.message).toContain(`in ${lock.dataDir} is in use by this process ${process.pid}`);
    lock.release();
  });

  it('is one lock per folder, however the folder is spelled', () => {
    mkdirSync(dataDir);
    symlinkSync(dataDir, join(root, 'alias'));
    const lock = lockEmbeddedDirectory(dataDir);
    expect(refusal(() => lockEmbeddedDirectory(join(root, 'alias'))).dataDir).toBe(lock.dataDir);
    expect(refusal(() => lockEmbeddedDirectory(relative(process.cwd(), dataDir))).dataDir).toBe(
      lock.dataDir,
    );
    lock.release();
  });

  it('lets the next opener in once released; releasing twice is harmless', () => {
    const first = lockEmbeddedDirectory(dataDir);
    first.release();
    first.release();
    expect(first.released).toBe(true);
    expect(topRecord().state).toBe('released');
    const second = lockEmbeddedDirectory(dataDir);
    expect(second.released).toBe(false);
    expect(topRecord()).toMatchObject({ state: 'held', pid: process.pid });
    // Only the current record is kept.
    expect(readdirSync(join(dataDir, LOCK_FOLDER))).toHaveLength(1);
    second.release();
  });

  it('recovers the lock of a process that is gone', () => {
    mkdirSync(dataDir);
    const pid = deadPid();
    plantRecord({ pid });
    const lock = lockEmbeddedDirectory(dataDir);
    expect(topRecord()).toMatchObject({ state: 'held', pid: process.pid });
    lock.release();
  });

  it('recovers a lock whose pid now belongs to another process (pid reuse)', async () => {
    mkdirSync(dataDir);
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const pid = other.pid!;
      // The pid is alive, but the record was written by a process that started at another time.
      const actualStart = readProcStart(pid);
      expect(actualStart).toBeDefined();
      plantRecord({ pid, procStart: String(Number(actualStart) - 1) });
      lockEmbeddedDirectory(dataDir).release();

      // The same live pid with its real start time is a live holder.
      plantRecord({ pid, procStart: actualStart }, 10);
      const error = refusal(() => lockEmbeddedDirectory(dataDir));
      expect(error.holder).toMatchObject({ pid, thisProcess: false });
      expect(error.message).toContain(`in use by process ${pid} on host "${hostname()}"`);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('recovers a lock written before the machine rebooted', () => {
    mkdirSync(dataDir);
    plantRecord({ bootId: 'an-earlier-boot' });
    lockEmbeddedDirectory(dataDir).release();
  });

  it('ignores a record that came with a copy of the folder', () => {
    mkdirSync(dataDir);
    // This process is alive, but the record names another directory (the one it was copied from).
    plantRecord({ dirId: '1:1', procStart: readProcStart(process.pid) });
    lockEmbeddedDirectory(dataDir).release();
  });

  it('keeps a record of another host, which cannot be checked from here', () => {
    mkdirSync(dataDir);
    plantRecord({ host: 'another-host', pid: deadPid() });
    const error = refusal(() => lockEmbeddedDirectory(dataDir));
    expect(error.holder.host).toBe('another-host');
    expect(error.message).toContain('on host "another-host"');
    expect(error.message).toContain(`delete the folder's ${LOCK_FOLDER}`);
  });

  it('treats a damaged record as stale', () => {
    mkdirSync(dataDir);
    plantRecord('{"state":"he');
    lockEmbeddedDirectory(dataDir).release();
  });
});

describe('embeddedFolder', () => {
  it('locks folders only: PGlite keeps memory:// and browser stores elsewhere', () => {
    expect(embeddedFolder(undefined)).toBeUndefined();
    expect(embeddedFolder('memory://')).toBeUndefined();
    expect(embeddedFolder('memory://x')).toBeUndefined();
    expect(embeddedFolder('idb://db')).toBeUndefined();
    expect(embeddedFolder('./data/bank')).toBe('./data/bank');
    expect(embeddedFolder('file:///srv/data')).toBe('/srv/data');
  });
});
