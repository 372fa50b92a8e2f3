import { testEvent } from '../testing/event-store.contract';
import { dcbAppend } from './dcb-append';
import type { AppendResult, EventStore } from './event-store';

describe('dcbAppend', () => {
  const result = { events: [], versions: new Map(), position: '0' } as unknown as AppendResult;
  const spy = () => {
    const append = jest.fn().mockResolvedValue(result);
    return { store: { append } as unknown as EventStore, append };
  };

  it('appends the events in no stream, with no stream write, under the condition', async () => {
    const { store, append } = spy();
    const events = [testEvent('Subscribed', {}, { tags: ['course:c1'] })];
    const condition = { failIfEventsMatch: { items: [{ tags: ['course:c1'] }] }, after: 4 };
    await expect(dcbAppend(store, events, condition)).resolves.toBe(result);
    expect(append).toHaveBeenCalledWith([], { events, condition });
  });

  it('appends without a condition when none is given', async () => {
    const { store, append } = spy();
    const events = [testEvent('Registered')];
    await dcbAppend(store, events);
    expect(append.mock.calls[0]).toEqual([[], { events }]);
  });
});
