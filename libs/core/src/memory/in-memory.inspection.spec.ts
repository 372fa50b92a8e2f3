import { testEvent } from '@eventcore/core/testing';
import { InvalidOptionsError } from '../errors';
import type { EventToAppend } from '../events/event';
import { InMemoryCheckpointStore } from '../projection/checkpoint-store';
import type { Position } from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import { streamId } from '../store/stream-id';
import { InMemoryEventStore } from './in-memory.event-store';
import { InMemoryStoreInspection } from './in-memory.inspection';

describe('InMemoryStoreInspection', () => {
  let store: InMemoryEventStore;
  let checkpoints: InMemoryCheckpointStore;
  let inspection: InMemoryStoreInspection;

  beforeEach(() => {
    store = new InMemoryEventStore();
    checkpoints = new InMemoryCheckpointStore();
    inspection = new InMemoryStoreInspection(store, checkpoints);
  });

  const correlated = (type: string, correlationId: string, causationId: string): EventToAppend =>
    testEvent(type, {}, { metadata: { correlationId, causationId, userId: null, custom: {} } });

  async function append(id: string, ...events: EventToAppend[]) {
    return store.append([{ streamId: streamId(id), expected: ExpectedVersion.any, events }]);
  }

  it('finds streams by id prefix, in id order, with their versions, paged', async () => {
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
    expect((await inspection.findStreams('')).map((s) => s.streamId)).toEqual([
      'account-a',
      'account-b',
      'account-c',
      'order-1',
    ]);
    await expect(inspection.findStreams('', { limit: 0 })).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
  });

  it('sees what was appended after an earlier call (it reads on, not once)', async () => {
    await append('account-a', testEvent('Opened'));
    expect(await inspection.findStreams('account-')).toHaveLength(1);
    await append('account-a', testEvent('Deposited'));
    await append('account-b', testEvent('Opened'));
    expect(await inspection.findStreams('account-')).toEqual([
      { streamId: 'account-a', version: 2 },
      { streamId: 'account-b', version: 1 },
    ]);
  });

  it('finds an event by id, and every event of a correlation id across streams in log order', async () => {
    const first = correlated('TransferStarted', 'corr-1', 'command-1');
    await append('account-a', first);
    await append('account-x', correlated('Unrelated', 'corr-2', 'command-2'));
    const second = correlated('Credited', 'corr-1', first.id);
    await append('account-b', second);

    expect((await inspection.findEvent(second.id))?.streamId).toBe('account-b');
    expect(await inspection.findEvent('no-such-id')).toBeUndefined();
    const trace = await inspection.eventsByCorrelationId('corr-1');
    expect(trace.map((e) => [e.streamId, e.type])).toEqual([
      ['account-a', 'TransferStarted'],
      ['account-b', 'Credited'],
    ]);
    expect(await inspection.eventsByCorrelationId('corr-1', { limit: 1 })).toHaveLength(1);
    expect(await inspection.eventsByCorrelationId('none')).toEqual([]);
  });

  it('reports the head of the log, and no transaction holding it back', async () => {
    expect(await inspection.head()).toEqual({ globalPosition: 0, recordedAt: null });
    await append('account-a', testEvent('Opened'), testEvent('Deposited'));
    const head = await inspection.head();
    expect(head.globalPosition).toBe(2);
    expect(Date.parse(head.recordedAt!)).not.toBeNaN();
    expect(await inspection.oldestWriteTransaction()).toEqual({ known: true, transaction: null });
  });

  it('removes one dead letter of one projection', async () => {
    const { events } = await append('account-a', testEvent('Opened'), testEvent('Deposited'));
    const [opened, deposited] = events;
    await checkpoints.deadLetter('p', undefined, '1' as Position, opened!, new Error('boom'));
    await checkpoints.deadLetter('p', '1' as Position, '2' as Position, deposited!, 'bang');
    await checkpoints.deadLetter('q', undefined, '1' as Position, opened!, 'other');

    expect(await inspection.removeDeadLetter('p', opened!.id)).toBe(true);
    expect(await inspection.removeDeadLetter('p', opened!.id)).toBe(false);
    expect((await checkpoints.deadLetters('p')).map((l) => l.eventId)).toEqual([deposited!.id]);
    expect(await checkpoints.deadLetters('q')).toHaveLength(1);
    expect(await new InMemoryStoreInspection(store).removeDeadLetter('q', opened!.id)).toBe(false);
  });
});
