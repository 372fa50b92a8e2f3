/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import { EmbeddedDatabaseLockedError, ExpectedVersion, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPGliteEventStore } from '../postgres.factory';
import { loadPGlite } from '../testing/pglite.testing';
import { lockEmbeddedDirectory } from './directory-lock';

/*
 * The `db` option: a PGlite instance the application opened itself. The store makes that instance
 * the folder's owner until it is closed, so a second instance on the same folder — in this process
 * or another — cannot carry a store.
 */
describe('PGlite store on a db you pass', () => {
  let root: string;
  const opened: PGlite[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'eventcore-pglite-lock-'));
  });

  afterEach(async () => {
    for (const db of opened.splice(0)) if (!db.closed) await db.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function open(dataDir?: string): Promise<PGlite> {
    const db = await loadPGlite().create(dataDir === undefined ? {} : { dataDir });
    opened.push(db);
    return db;
  }

  it('locks the folder of the instance until it is closed; a second instance is refused', async () => {
    const dataDir = join(root, 'data');
    const first = await open(dataDir);
    const store = await createPGliteEventStore({ db: first });
    // Two stores (two schemas) on one instance share its lock: one owner, one writer.
    const other = await createPGliteEventStore({ db: first, schema: 'other' });

    const second = await open(dataDir);
    const refused = createPGliteEventStore({ db: second });
    await expect(refused).rejects.toBeInstanceOf(EmbeddedDatabaseLockedError);
    await expect(refused).rejects.toMatchObject({
      code: 'eventcore.embedded_database_locked',
      holder: { pid: process.pid, thisProcess: true },
    });
    // Any other opener too, while the first instance is open (a store's close does not end it).
    await store.close();
    await other.close();
    expect(() => lockEmbeddedDirectory(dataDir)).toThrow(EmbeddedDatabaseLockedError);

    await second.close();
    await first.close();
    lockEmbeddedDirectory(dataDir).release();
  });

  it('needs no lock in memory', async () => {
    const db = await open();
    const again = await open('memory://');
    const stores = [
      await createPGliteEventStore({ db }),
      await createPGliteEventStore({ db: again }),
    ];
    await stores[0]!.append([
      { streamId: streamId('s'), expected: ExpectedVersion.noStream, events: [testEvent('E')] },
    ]);
    for (const store of stores) await store.close();
  });
});
