import { type EmbeddedDatabaseHolder, EmbeddedDatabaseLockedError } from '@eventcore/core';
import { randomUUID } from 'node:crypto';
import {
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** The folder, inside the data directory, that holds the lock records. */
export const LOCK_FOLDER = 'eventcore.lock';

/**
 * What a lock record says about the process that wrote it. Enough to tell, later and from another
 * process, whether that very process is still running: pid alone is not (pids are reused, and a
 * restarted container gives its main process the same pid again).
 */
export interface LockRecord {
  readonly state: 'held' | 'released';
  readonly pid: number;
  readonly host: string;
  /** Start time of the process in clock ticks since boot (`/proc/<pid>/stat` field 22), on Linux. */
  readonly procStart?: string;
  /** `/proc/sys/kernel/random/boot_id`: a different boot means every recorded process is gone. */
  readonly bootId?: string;
  /** When the process started, for people reading the error. */
  readonly startedAt: string;
  /** Device and inode of the data directory: a copied folder carries a record that is not its own. */
  readonly dirId: string;
  readonly nonce: string;
}

/** An exclusive hold on an embedded database directory, from {@link lockEmbeddedDirectory}. */
export interface EmbeddedDirectoryLock {
  /** The data directory, resolved (symlinks followed): the lock is on the folder, not the spelling. */
  readonly dataDir: string;
  readonly released: boolean;
  /** Gives the directory up; idempotent. Called by the opener when the database closes. */
  release(): void;
}

const RECORD_NAME = /^(\d{12})\.json$/;
const MAX_ROUNDS = 50;

/**
 * Takes the one-owner lock of an embedded database directory (creating the directory if needed),
 * before the database is opened. The lock lasts until `release()` or the end of the process; a lock
 * left by a process that died (SIGKILL, power loss) is recovered by the next opener.
 *
 * How: the lock folder holds numbered records; the highest number is the current state (held by a
 * process, or released). Taking the lock is creating the next number, atomically (a hard link of a
 * fully written file, which fails if the name exists), so of two processes that both found the
 * directory free — or both found the same dead holder — exactly one succeeds; the other reads the
 * winner's record and is refused. Records are never rewritten, so recovering a stale lock needs no
 * compare-and-delete, the step that makes lock-file recovery racy elsewhere.
 * @throws EmbeddedDatabaseLockedError naming the directory and the live holder (which may be this
 * process: a second store on one directory is refused too).
 */
export function lockEmbeddedDirectory(dataDir: string): EmbeddedDirectoryLock {
  mkdirSync(dataDir, { recursive: true });
  const dir = realpathSync(dataDir);
  const folder = join(dir, LOCK_FOLDER);
  mkdirSync(folder, { recursive: true });
  const dirId = directoryId(dir);
  const me = ownRecord(dirId);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const top = highestRecord(folder);
    if (top !== undefined && top.record !== undefined) {
      const holder = liveHolder(top.record, dirId);
      if (holder !== undefined) throw new EmbeddedDatabaseLockedError(dir, holder);
    }
    // Free, released, or held by a process that is gone: claim the next number.
    const generation = (top?.generation ?? 0) + 1;
    if (!createRecord(folder, generation, me)) continue;
    // A process that read the folder long ago may have re-created a number that a cleanup had
    // removed; only the highest number counts, so such a claim loses here.
    const after = highestRecord(folder);
    if (after?.generation !== generation) {
      removeQuietly(join(folder, recordName(generation)));
      continue;
    }
    removeOthers(folder, generation);
    return track(new DirectoryLock(dir, folder, generation, me));
  }
  throw new Error(
    `Could not settle the lock of ${dir} after ${MAX_ROUNDS} attempts: other processes keep opening it at the same moment. Start one process per data directory.`,
  );
}

class DirectoryLock implements EmbeddedDirectoryLock {
  released = false;

  constructor(
    readonly dataDir: string,
    private readonly folder: string,
    private readonly generation: number,
    private readonly record: LockRecord,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    untrack(this);
    // A "released" record above ours, not a deletion: the highest record must never disappear, or a
    // slow opener could claim a number below a later holder's and believe it won.
    const released: LockRecord = { ...this.record, state: 'released', nonce: randomUUID() };
    if (createRecord(this.folder, this.generation + 1, released)) {
      removeQuietly(join(this.folder, recordName(this.generation)));
    }
  }
}

/** Locks this process still holds; released at exit so that a clean exit leaves nothing stale. */
const held = new Set<DirectoryLock>();

function releaseAllAtExit(): void {
  for (const lock of [...held]) lock.release();
}

function track(lock: DirectoryLock): DirectoryLock {
  if (held.size === 0) process.on('exit', releaseAllAtExit);
  held.add(lock);
  return lock;
}

function untrack(lock: DirectoryLock): void {
  held.delete(lock);
  if (held.size === 0) process.removeListener('exit', releaseAllAtExit);
}

function recordName(generation: number): string {
  return `${String(generation).padStart(12, '0')}.json`;
}

/** The highest-numbered record; `record` is undefined when it is unreadable (treated as stale). */
function highestRecord(
  folder: string,
): { generation: number; record: LockRecord | undefined } | undefined {
  let generation = 0;
  for (const name of readdirSync(folder)) {
    const match = RECORD_NAME.exec(name);
    if (match) generation = Math.max(generation, Number(match[1]));
  }
  if (generation === 0) return undefined;
  let text: string;
  try {
    text = readFileSync(join(folder, recordName(generation)), 'utf8');
  } catch (error) {
    // Cleaned up by its successor between readdir and read: look again.
    if (isCode(error, 'ENOENT')) return highestRecord(folder);
    throw error;
  }
  return { generation, record: parseRecord(text) };
}

/**
 * Creates record `generation` with its full content in one step: a temporary file is written, then
 * hard-linked under the record's name, which fails if the name exists. False when another process
 * created that number first (or removed our temporary file while cleaning up).
 */
function createRecord(folder: string, generation: number, record: LockRecord): boolean {
  const temporary = join(folder, `.tmp-${process.pid}-${randomUUID()}`);
  writeFileSync(temporary, JSON.stringify(record), { flag: 'wx' });
  try {
    linkSync(temporary, join(folder, recordName(generation)));
    return true;
  } catch (error) {
    if (isCode(error, 'EEXIST') || isCode(error, 'ENOENT')) return false;
    throw error;
  } finally {
    removeQuietly(temporary);
  }
}

/** Removes every entry but the winning record: older records and leftovers of killed openers. */
function removeOthers(folder: string, generation: number): void {
  const keep = recordName(generation);
  for (const name of readdirSync(folder)) {
    if (name === keep) continue;
    const match = RECORD_NAME.exec(name);
    // Also temporary files, left by openers killed mid-claim; an opener still at work whose file
    // vanishes only looks again. Records above ours cannot exist while we hold the highest.
    if (match === null && !name.startsWith('.tmp-')) continue;
    if (match !== null && Number(match[1]) > generation) continue;
    removeQuietly(join(folder, name));
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: removed by another opener's cleanup.
  }
}

/**
 * The holder named by `record` when it still holds the directory; undefined when the record is
 * released or stale (its process is gone, or it came with a copy of the folder).
 */
function liveHolder(
  record: LockRecord | undefined,
  dirId: string,
): EmbeddedDatabaseHolder | undefined {
  if (record === undefined || record.state === 'released') return undefined;
  const holder = {
    pid: record.pid,
    host: record.host,
    startedAt: record.startedAt,
    thisProcess: false,
  };
  // Another machine (a shared or network folder): its processes cannot be checked from here, so
  // the record stands until that process releases it or someone deletes it.
  if (record.host !== hostname()) return holder;
  if (record.dirId !== dirId) return undefined;
  const bootId = readBootId();
  if (record.bootId !== undefined && bootId !== undefined && record.bootId !== bootId) {
    return undefined;
  }
  if (!isAlive(record.pid)) return undefined;
  if (record.procStart !== undefined) {
    const procStart = readProcStart(record.pid);
    // The pid is alive but belongs to a different process than the one that locked.
    if (procStart !== undefined && procStart !== record.procStart) return undefined;
  }
  return { ...holder, thisProcess: record.pid === process.pid };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return !isCode(error, 'ESRCH');
  }
}

function ownRecord(dirId: string): LockRecord {
  return {
    state: 'held',
    pid: process.pid,
    host: hostname(),
    procStart: readProcStart(process.pid),
    bootId: readBootId(),
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    dirId,
    nonce: randomUUID(),
  };
}

function directoryId(dir: string): string {
  const stat = statSync(dir, { bigint: true });
  return `${stat.dev}:${stat.ino}`;
}

function parseRecord(text: string): LockRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockRecord> | null;
    if (
      typeof value !== 'object' ||
      value === null ||
      (value.state !== 'held' && value.state !== 'released') ||
      typeof value.pid !== 'number' ||
      typeof value.host !== 'string' ||
      typeof value.dirId !== 'string'
    ) {
      return undefined;
    }
    return value as LockRecord;
  } catch {
    // A record is linked only once fully written; an unreadable one was damaged (e.g. a power loss
    // before it reached the disk), and every process of that moment is gone.
    return undefined;
  }
}

/** Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot); undefined off Linux. */
export function readProcStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function isCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code;
}
