/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import { snapshotDifferentialSuite } from '@eventcore/core/testing';
import { createPGliteEventStore } from '../postgres.factory';
import { loadPGlite } from '../testing/pglite.testing';
import { createPostgresSnapshotStore } from './postgres.snapshot-store';

// The same SQL on the embedded database, so the snapshot load is tested without a server too.
let db: PGlite;
let schemas = 0;

beforeAll(async () => {
  db = await loadPGlite().create();
});

afterAll(async () => {
  await db.close();
});

snapshotDifferentialSuite(
  'PGlite (in memory)',
  async () => {
    const events = await createPGliteEventStore({ db, schema: `snap_${++schemas}` });
    return { events, snapshots: await createPostgresSnapshotStore(events) };
  },
  { numRuns: 8, scheduled: false },
);
