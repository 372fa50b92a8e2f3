/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import { type EventToAppend, ExpectedVersion, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { PostgresEventStore } from '../postgres.event-store';
import { createPGliteEventStore } from '../postgres.factory';
import {
  createPostgresCheckpointStore,
  type PostgresCheckpointStore,
} from '../projection/postgres.checkpoint-store';
import { loadPGlite } from '../testing/pglite.testing';
import { PostgresStoreInspection } from './postgres.inspection';

let db: PGlite;
let schemas = 0;

beforeAll(async () => {
  db = await loadPGlite().create();
});

afterAll(async () => {
  await db.close();
});

describe('PostgresStoreInspection on PGlite', () => {
  let store: PostgresEventStore;
  let checkpoints: PostgresCheckpointStore;
  let inspection: PostgresStoreInspection;

  beforeEach(async () => {
    store = await createPGliteEventStore({ db, schema: `inspect_${++schemas}` });
    checkpoints = await createPostgresCheckpointStore(store);
    inspection = new PostgresStoreInspection(store);
  });

  const correlated = (type: string, correlationId: string, causationId: string): EventToAppend =>
    testEvent(
      type,
      { type },
      { metadata: { correlationId, causationId, userId: 'u', custom: {} } },
    );

  async function append(id: string, ...events: EventToAppend[]) {
    return store.append([{ streamId: streamId(id), expected: ExpectedVersion.any, events }]);
  }

  it('finds streams by id prefix in id order, with versions, paged', async () => {
    await append('account-b', testEvent('Opened'), testEvent('Deposited'));
    await append('order-1', testEvent('Placed'));
    await append('account-a', testEvent('Opened'));
    await append('account-c', testEvent('Opened'));

    expect(await inspection.findStreams('account-')).toEqual([
      { streamId: 'account-a', version: 1 },
      { streamId: 'account-b', version: 2 },
      { streamId: 'account-c', version: 1 },
    ]);
    expect(await inspection.findStreams('account-', { after: 'account-a', limit: 1 })).toEqual([
      { streamId: 'account-b', version: 2 },
    ]);
    expect(await inspection.findStreams('nothing-')).toEqual([]);
    // A prefix is text, never a pattern.
    expect(await inspection.findStreams('account%')).toEqual([]);
  });

  it('finds an event by id, decoded as the store reads it', async () => {
    const event = correlated('Deposited', 'corr-1', 'command-1');
    await append('account-a', testEvent('Opened'), event);
    const found = await inspection.findEvent(event.id);
    expect(found).toMatchObject({
      id: event.id,
      streamId: 'account-a',
      streamVersion: 2,
      type: 'Deposited',
      data: { type: 'Deposited' },
      metadata: { correlationId: 'corr-1', causationId: 'command-1', userId: 'u' },
    });
    expect(await inspection.findEvent('0190a0a0-0000-7000-8000-000000000000')).toBeUndefined();
    expect(await inspection.findEvent('not-a-uuid')).toBeUndefined();
  });

  it('returns the events of a correlation id across streams, in log order, up to a limit', async () => {
    const started = correlated('TransferStarted', 'corr-1', 'command-1');
    await append('account-a', testEvent('Opened'), started);
    await append('account-x', correlated('Unrelated', 'corr-2', 'command-2'));
    await append('account-b', correlated('Credited', 'corr-1', started.id));

    const trace = await inspection.eventsByCorrelationId('corr-1');
    expect(trace.map((e) => [e.streamId, e.type])).toEqual([
      ['account-a', 'TransferStarted'],
      ['account-b', 'Credited'],
    ]);
    expect(trace[1]!.metadata.causationId).toBe(started.id);
    expect(await inspection.eventsByCorrelationId('corr-1', { limit: 1 })).toHaveLength(1);
    expect(await inspection.eventsByCorrelationId('none')).toEqual([]);
  });

  it('reports the head and, on PGlite, no other transaction', async () => {
    expect(await inspection.head()).toEqual({ globalPosition: 0, recordedAt: null });
    const { events } = await append('account-a', testEvent('Opened'), testEvent('Deposited'));
    const head = await inspection.head();
    expect(head.globalPosition).toBe(events[1]!.globalPosition);
    expect(head.recordedAt).toBe(events[1]!.recordedAt);
    expect(await inspection.oldestWriteTransaction()).toEqual({ known: true, transaction: null });
  });

  it('removes a dead letter in the checkpoint transaction, and not when it rolls back', async () => {
    const { events } = await append('account-a', testEvent('Opened'));
    const event = events[0]!;
    await checkpoints.deadLetter(
      'q',
      undefined,
      (await store.readAll({ limit: 1 })).next,
      event,
      'boom',
    );

    await expect(
      checkpoints.transaction(async (tx) => {
        expect(await inspection.removeDeadLetter('q', event.id, tx)).toBe(true);
        throw new Error('re-handling failed');
      }),
    ).rejects.toThrow('re-handling failed');
    expect(await checkpoints.deadLetters('q')).toHaveLength(1);

    await checkpoints.transaction((tx) => inspection.removeDeadLetter('q', event.id, tx));
    expect(await checkpoints.deadLetters('q')).toEqual([]);
    expect(await inspection.removeDeadLetter('q', event.id)).toBe(false);
  });
});
