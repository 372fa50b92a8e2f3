import { AppendConditionFailedError, ConcurrencyConflictError } from '../errors';
import { dcbAppend } from '../store/dcb-append';
import { ExpectedVersion } from '../store/expected-version';
import { streamId } from '../store/stream-id';
import { testEvent } from './event-store.contract';
import { FaultyEventStore } from './faulty-event-store';

describe('FaultyEventStore with DCB reads and appends', () => {
  const course = { items: [{ tags: ['course:c1'] }] };

  it('passes read options, append conditions and events in no stream through', async () => {
    const store = new FaultyEventStore();
    const [first, second] = [
      testEvent('Subscribed', {}, { tags: ['course:c1'] }),
      testEvent('Subscribed', {}, { tags: ['course:c1'] }),
    ];
    await dcbAppend(store, [first, second], { failIfEventsMatch: course });
    const read = await store.read(course, { backwards: true, limit: 1 });
    expect(read.events.map((e) => e.id)).toEqual([second.id]);
    await expect(
      dcbAppend(store, [testEvent('Late')], { failIfEventsMatch: course, after: 1 }),
    ).rejects.toBeInstanceOf(AppendConditionFailedError);
    expect((await store.readAll({ limit: 10 })).events).toHaveLength(2);
  });

  it('injects a condition failure into a planned conditional append with no stream write', async () => {
    const store = new FaultyEventStore({ conflictOnAppends: [1] });
    const error = await dcbAppend(store, [testEvent('Subscribed')], {
      failIfEventsMatch: course,
      after: 7,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppendConditionFailedError);
    expect(error).toMatchObject({ query: course, after: 7 });
    expect(store.injectedFaults).toBe(1);
    expect((await store.readAll({ limit: 10 })).events).toEqual([]);
    await dcbAppend(store, [testEvent('Subscribed')], { failIfEventsMatch: course });
    expect((await store.readAll({ limit: 10 })).events).toHaveLength(1);
  });

  it('injects a version conflict first when the append has stream writes and a condition', async () => {
    const store = new FaultyEventStore({ conflictOnAppends: [1] });
    const error = await store
      .append(
        [{ streamId: streamId('s'), expected: ExpectedVersion.any, events: [testEvent('E')] }],
        { condition: { failIfEventsMatch: course } },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect((await store.readAll({ limit: 10 })).events).toEqual([]);
  });

  it('lets a planned append through when it has neither stream writes nor a condition', async () => {
    const store = new FaultyEventStore({ conflictOnAppends: [1] });
    await dcbAppend(store, [testEvent('Registered')]);
    expect(store.injectedFaults).toBe(0);
    expect((await store.readAll({ limit: 10 })).events).toHaveLength(1);
  });

  it('injects failures into reads too', async () => {
    const store = new FaultyEventStore({ failureRate: 1 });
    await expect(store.read(course)).rejects.toMatchObject({ code: 'eventcore.store_unavailable' });
    expect(store.injectedFaults).toBe(1);
  });
});
