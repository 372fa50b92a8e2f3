/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import { archivingContract, dcbContract, eventStoreContract } from '@eventcore/core/testing';
import { createPGliteEventStore } from './postgres.factory';
import { CURRENT_SCHEMA_VERSION } from './schema/migrations';
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

const teardown = async (store: { schema: string }) => {
  await db.exec(`DROP SCHEMA "${store.schema}" CASCADE`);
};
eventStoreContract(
  'PGlite (in memory)',
  () => createPGliteEventStore({ db, schema: `contract_${++stores}` }),
  { teardown },
);
dcbContract(
  'PGlite (in memory)',
  () => createPGliteEventStore({ db, schema: `contract_${++stores}` }),
  { teardown },
);
archivingContract(
  'PGlite (in memory)',
  () => createPGliteEventStore({ db, schema: `contract_${++stores}` }),
  { teardown },
);

describe('PGlite store on disk', () => {
  it('keeps its events across a restart', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { ExpectedVersion, streamId } = await import('@eventcore/core');
    const { testEvent } = await import('@eventcore/core/testing');
    const dataDir = await mkdtemp(join(tmpdir(), 'eventcore-pglite-'));
    try {
      const first = await loadPGlite().create({ dataDir });
      const writer = await createPGliteEventStore({ db: first });
      const written = await writer.append([
        {
          streamId: streamId('durable'),
          expected: ExpectedVersion.noStream,
          events: [testEvent('Kept', { n: 1 })],
        },
      ]);
      await writer.close();
      await first.close();

      const second = await loadPGlite().create({ dataDir });
      const reader = await createPGliteEventStore({ db: second });
      const read = await reader.readStreams([streamId('durable')]);
      expect(read.events).toEqual(written.events);
      expect((await reader.health()).schemaVersion).toBe(CURRENT_SCHEMA_VERSION);
      await reader.close();
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
