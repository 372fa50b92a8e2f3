import type { PGliteInterface } from '@electric-sql/pglite';
import { type EmbeddedDirectoryLock, lockEmbeddedDirectory } from './directory-lock';

/** The lock each open PGlite instance holds on its directory (absent: in memory). */
const locks = new WeakMap<PGliteInterface, EmbeddedDirectoryLock>();

/**
 * The folder PGlite stores `dataDir` in on this machine's file system, or undefined when it keeps
 * the database elsewhere (in memory, or a browser store), where there is nothing to share between
 * processes. Mirrors PGlite's own reading of `dataDir` (a bare path or `file://` is a folder).
 */
export function embeddedFolder(dataDir: string | undefined): string | undefined {
  if (dataDir === undefined || dataDir === '') return undefined;
  if (dataDir.startsWith('file://')) return dataDir.slice('file://'.length) || undefined;
  if (/^(memory|idb|opfs-ahp|memfs2opfs):\/\//.test(dataDir)) return undefined;
  return dataDir;
}

/**
 * Ties `lock` to `db`: the directory stays locked until `db.close()` has finished, however the
 * instance is closed (by the store that owns it, by `createPostgresStorage`, or by its user).
 */
export function holdUntilClosed(db: PGliteInterface, lock: EmbeddedDirectoryLock): void {
  locks.set(db, lock);
  const close = db.close.bind(db);
  // An own property over the prototype's method: only this instance is affected.
  Object.defineProperty(db, 'close', {
    configurable: true,
    writable: true,
    value: async (): Promise<void> => {
      try {
        await close();
      } finally {
        lock.release();
      }
    },
  });
}

/**
 * Makes sure a PGlite instance handed to the store owns its directory: an instance opened by
 * `openPGlite` already does; any other on-disk instance takes the lock now, for as long as it
 * stays open. In memory, nothing to do.
 * @throws EmbeddedDatabaseLockedError when another live process, or another instance in this
 * process, holds the directory.
 */
export function ensureDirectoryOwner(db: PGliteInterface): void {
  const folder = embeddedFolder((db as { dataDir?: string }).dataDir);
  // A closed instance writes nothing; the store's first query reports it.
  if (folder === undefined || db.closed) return;
  const lock = locks.get(db);
  if (lock !== undefined && !lock.released) return;
  holdUntilClosed(db, lockEmbeddedDirectory(folder));
}
