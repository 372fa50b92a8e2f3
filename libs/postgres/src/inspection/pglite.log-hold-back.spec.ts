/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import { ExpectedVersion, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { createPGliteEventStore } from '../postgres.factory';
import { loadPGlite } from '../testing/pglite.testing';

describe('the log hold-back on PGlite', () => {
  it('is never held back: one connection, no other transaction', async () => {
    const db = await loadPGlite().create();
    const store = await createPGliteEventStore({ db });
    try {
      await store.append([
        { streamId: streamId('a'), expected: ExpectedVersion.any, events: [testEvent('A')] },
      ]);
      expect(await store.logHoldBack()).toEqual({
        heldBackSeconds: 0,
        blocking: { known: true, transaction: null },
      });
      expect(await store.health()).toMatchObject({
        oldestTransactionAgeSeconds: 0,
        oldestWriteTransactionAgeSeconds: 0,
      });
    } finally {
      await store.close();
      await db.close();
    }
  });
});
