/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import { eventStoreContract } from '@eventcore/core/testing';
import { createPGliteEventStore } from './postgres.factory';
import { loadPGlite } from './testing/pglite.testing';

// One in-memory PGlite for the file (starting one takes seconds); each store gets a fresh schema.
let db: PGlite;
let stores = 0;

beforeAll(async () => {
  db = await loadPGlite().create();
});

afterAll(async () => {
  await db.close();
});

eventStoreContract(
  'PGlite (in memory)',
  () => createPGliteEventStore({ db, schema: `contract_${++stores}` }),
  {
    teardown: async (store) => {
      await db.exec(`DROP SCHEMA "${store.schema}" CASCADE`);
    },
  },
);
