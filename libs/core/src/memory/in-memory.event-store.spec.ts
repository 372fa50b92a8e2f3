import {
  archivingContract,
  dcbContract,
  eventStoreContract,
  testEvent,
} from '@eventcore/core/testing';
import fc from 'fast-check';
import {
  AppendConditionFailedError,
  ConcurrencyConflictError,
  ErrorCodes,
  InvalidAppendError,
} from '../errors';
import { dcbAppend } from '../store/dcb-append';
import type { Position } from '../store/event-store';
import type { EventMetadata, RecordedEvent } from '../events/event';
import { ExpectedVersion } from '../store/expected-version';
import { streamId, type StreamId } from '../store/stream-id';
import { InMemoryEventStore } from './in-memory.event-store';

eventStoreContract('in-memory', async () => new InMemoryEventStore());
dcbContract('in-memory', async () => new InMemoryEventStore());
archivingContract('in-memory', async () => new InMemoryEventStore());

describe('InMemoryEventStore specifics', () => {
  const A = streamId('account-1');
  const B = streamId('account-2');
  let store: InMemoryEventStore;

  beforeEach(() => {
    store = new InMemoryEventStore();
  });

  afterEach(async () => {
    await store.close();
  });

  async function seed(): Promise<RecordedEvent> {
    const event = testEvent(
      'Opened',
      { owner: { name: 'Ada' }, limits: [100, 200] },
      {
        metadata: {
          correlationId: 'c',
          causationId: 'k',
          userId: 'u',
          custom: { trace: { id: 't-1' } },
        },
      },
    );
    const result = await store.append([
      { streamId: A, expected: ExpectedVersion.noStream, events: [event] },
    ]);
    return result.events[0]!;
  }

  describe('immutability', () => {
    it('deep-freezes recorded events, so mutating them throws', async () => {
      const recorded = await seed();
      const data = recorded.data as { owner: { name: string }; limits: number[] };
      const custom = recorded.metadata.custom as { trace: { id: string } };
      for (const value of [
        recorded,
        data,
        data.owner,
        data.limits,
        recorded.metadata,
        custom,
        custom.trace,
      ]) {
        expect(Object.isFrozen(value)).toBe(true);
      }
      // This module is strict (ES module semantics), so writes to frozen objects throw.
      expect(() => {
        data.owner.name = 'Mallory';
      }).toThrow(TypeError);
      expect(() => {
        data.limits.push(300);
      }).toThrow(TypeError);
      expect(() => {
        (recorded as { type: string }).type = 'Closed';
      }).toThrow(TypeError);
      expect(() => {
        custom.trace.id = 'forged';
      }).toThrow(TypeError);
      expect(() => {
        (recorded.metadata as { userId: string | null }).userId = 'someone-else';
      }).toThrow(TypeError);

      const [stored] = (await store.readStreams([A])).events;
      expect(stored).toMatchObject({
        type: 'Opened',
        data: { owner: { name: 'Ada' }, limits: [100, 200] },
        metadata: { userId: 'u', custom: { trace: { id: 't-1' } } },
      });
    });

    it('hands out the same instances, without copying, from append, readStreams and readAll', async () => {
      const recorded = await seed();
      await store.append([
        { streamId: B, expected: ExpectedVersion.any, events: [testEvent('Other')] },
      ]);
      const first = await store.readStreams([A]);
      const second = await store.readStreams([A, B]);
      const page = await store.readAll({ limit: 10 });
      expect(first.events[0]).toBe(recorded);
      expect(second.events[0]).toBe(recorded);
      expect(page.events[0]).toBe(recorded);
      expect(second.events[1]).toBe(page.events[1]);
    });

    it('does not let a returned events array change what is stored', async () => {
      const recorded = await seed();
      const read = await store.readStreams([A]);
      (read.events as RecordedEvent[]).length = 0;
      const page = await store.readAll({ limit: 10 });
      (page.events as RecordedEvent[]).push(recorded);
      expect((await store.readStreams([A])).events).toEqual([recorded]);
      expect((await store.readAll({ limit: 10 })).events).toEqual([recorded]);
    });

    it("keeps its own copy of the caller's data and metadata", async () => {
      const data = { balance: 10, history: [1, 2], nested: { flag: true } };
      const custom = { tenant: 'acme', tags: ['x'] };
      const event = testEvent('Opened', data, {
        metadata: { correlationId: 'c', causationId: 'k', userId: null, custom },
      });
      await store.append([{ streamId: A, expected: ExpectedVersion.noStream, events: [event] }]);

      data.balance = 999;
      data.history.push(3);
      data.nested.flag = false;
      custom.tenant = 'evil';
      custom.tags.push('y');

      expect(Object.isFrozen(data)).toBe(false);
      const [stored] = (await store.readStreams([A])).events;
      expect(stored!.data).toEqual({ balance: 10, history: [1, 2], nested: { flag: true } });
      expect(stored!.metadata.custom).toEqual({ tenant: 'acme', tags: ['x'] });
    });

    it('stores what a JSON round trip gives for values JSON transforms, deep-frozen', async () => {
      class Money {
        constructor(readonly amount: number) {}
      }
      const data = {
        at: new Date('2030-01-02T03:04:05.678Z'),
        money: new Money(5),
        dropped: undefined,
        notANumber: Number.NaN,
        list: [undefined, -0, { nested: new Money(1) }],
      };
      const custom = { when: new Date(0), plain: { kept: [1] } };
      const event = testEvent('Odd', data, {
        metadata: { correlationId: 'c', causationId: 'k', userId: null, custom },
      });
      const [recorded] = (
        await store.append([{ streamId: A, expected: ExpectedVersion.noStream, events: [event] }])
      ).events;
      expect(recorded!.data).toStrictEqual(JSON.parse(JSON.stringify(data)));
      expect(recorded!.metadata.custom).toStrictEqual(JSON.parse(JSON.stringify(custom)));
      const list = (recorded!.data as { list: unknown[] }).list;
      for (const value of [recorded!.data, list, list[2], recorded!.metadata.custom]) {
        expect(Object.isFrozen(value)).toBe(true);
      }
    });

    it('copies metadata shared by several events once per append, and never shares it with the caller', async () => {
      const metadata = {
        correlationId: 'c',
        causationId: 'k',
        userId: null,
        custom: { tags: ['x'] },
      };
      const events = [testEvent('E1', {}, { metadata }), testEvent('E2', {}, { metadata })];
      const { events: recorded } = await store.append([
        { streamId: A, expected: ExpectedVersion.noStream, events },
      ]);
      metadata.custom.tags.push('y');
      for (const event of recorded) {
        expect(event.metadata).toEqual({ ...metadata, custom: { tags: ['x'] } });
        expect(event.metadata.custom).not.toBe(metadata.custom);
        expect(Object.isFrozen(event.metadata.custom.tags)).toBe(true);
      }
    });

    it('keeps each event’s metadata when equal-looking objects follow one another', async () => {
      const base = { correlationId: 'c', causationId: 'k', userId: null, custom: {} };
      // Each differs from the one before it in one field only.
      const given: EventMetadata[] = [
        base,
        { ...base, custom: {} }, // equal: may share the copy above
        { ...base, userId: 'u' },
        base,
        { ...base, correlationId: 'c2' },
        base,
        { ...base, causationId: 'k2' },
        base,
        { ...base, custom: { tenant: 'acme' } },
        { ...base, custom: {} },
        // userId and custom left out, as plain JavaScript callers may
        { correlationId: 'c', causationId: 'k' } as unknown as EventMetadata,
      ];
      const { events } = await store.append([
        {
          streamId: A,
          expected: ExpectedVersion.noStream,
          events: given.map((metadata, i) => testEvent(`E${i}`, {}, { metadata })),
        },
      ]);
      expect(events.map((e) => e.metadata)).toEqual([
        ...given.slice(0, -1),
        { correlationId: 'c', causationId: 'k', userId: null, custom: {} },
      ]);
    });
  });

  describe('onAppended', () => {
    it('fires after an append that wrote events, once the events are readable', async () => {
      const seen: Promise<number>[] = [];
      store.onAppended(() => {
        seen.push(store.readAll({ limit: 100 }).then((page) => page.events.length));
      });
      await store.append([
        {
          streamId: A,
          expected: ExpectedVersion.noStream,
          events: [testEvent('E1'), testEvent('E2')],
        },
        { streamId: B, expected: ExpectedVersion.noStream, events: [testEvent('E3')] },
      ]);
      expect(seen).toHaveLength(1);
      await store.append([
        { streamId: A, expected: ExpectedVersion.exact(2), events: [testEvent('E4')] },
      ]);
      expect(await Promise.all(seen)).toEqual([3, 4]);
    });

    it('does not fire after a failed append or an append of guards only', async () => {
      await store.append([
        { streamId: A, expected: ExpectedVersion.noStream, events: [testEvent('E1')] },
      ]);
      const listener = jest.fn();
      store.onAppended(listener);

      await expect(
        store.append([
          { streamId: A, expected: ExpectedVersion.noStream, events: [testEvent('E2')] },
        ]),
      ).rejects.toBeInstanceOf(ConcurrencyConflictError);
      await expect(store.append([])).rejects.toBeInstanceOf(InvalidAppendError);
      await store.append([{ streamId: A, expected: ExpectedVersion.exact(1), events: [] }]);
      expect(listener).not.toHaveBeenCalled();

      await store.append([
        { streamId: A, expected: ExpectedVersion.exact(1), events: [testEvent('E2')] },
      ]);
      expect(listener).toHaveBeenCalledTimes(1);
    });

    it('stops after unsubscribing, and a throwing listener does not fail the append', async () => {
      const quiet = jest.fn();
      const unsubscribe = store.onAppended(quiet);
      store.onAppended(() => {
        throw new Error('listener failure');
      });
      const after = jest.fn();
      store.onAppended(after);

      await store.append([
        { streamId: A, expected: ExpectedVersion.any, events: [testEvent('E1')] },
      ]);
      unsubscribe();
      const result = await store.append([
        { streamId: A, expected: ExpectedVersion.any, events: [testEvent('E2')] },
      ]);
      expect(result.versions.get(A)).toBe(2);
      expect(quiet).toHaveBeenCalledTimes(1);
      expect(after).toHaveBeenCalledTimes(2);
    });

    it('does not fire after close', async () => {
      const listener = jest.fn();
      store.onAppended(listener);
      await store.close();
      await expect(
        store.append([{ streamId: A, expected: ExpectedVersion.any, events: [testEvent('E1')] }]),
      ).rejects.toThrow();
      expect(listener).not.toHaveBeenCalled();
    });
  });

  describe('checks that have fast paths', () => {
    it('refuses two events with one id in a single write, writing nothing', async () => {
      const event = testEvent('Once');
      await expect(
        store.append([
          { streamId: A, expected: ExpectedVersion.any, events: [event, { ...event }] },
        ]),
      ).rejects.toThrow('appears more than once');
      expect((await store.readStreams([A])).versions.get(A)).toBe(0);
    });

    it('refuses an already stored id, whether it is the latest, an older one or out of order', async () => {
      const [first, second] = [testEvent('E1'), testEvent('E2')];
      const unordered = { ...testEvent('E3'), id: '00000000-0000-4000-8000-000000000000' };
      for (const event of [first, second, unordered]) {
        await store.append([{ streamId: A, expected: ExpectedVersion.any, events: [event] }]);
      }
      for (const event of [second, first, unordered]) {
        await expect(
          store.append([
            { streamId: B, expected: ExpectedVersion.any, events: [{ ...event, type: 'Again' }] },
          ]),
        ).rejects.toThrow('is already stored');
      }
      await store.append([
        { streamId: B, expected: ExpectedVersion.any, events: [testEvent('E4')] },
      ]);
      expect((await store.readStreams([A, B])).events.map((e) => e.type)).toEqual([
        'E1',
        'E2',
        'E3',
        'E4',
      ]);
    });

    it('refuses a malformed occurredAt right after a valid one, and an impossible date', async () => {
      const valid = testEvent('E1', {}, { occurredAt: '2030-01-02T03:04:05.678Z' });
      await store.append([{ streamId: A, expected: ExpectedVersion.any, events: [valid] }]);
      for (const occurredAt of ['2030-01-02T03:04:05.678', '2030-13-02T03:04:05.678Z']) {
        await expect(
          store.append([
            {
              streamId: A,
              expected: ExpectedVersion.any,
              events: [valid, testEvent('E2', {}, { occurredAt })].map((e) => ({
                ...e,
                id: `${e.id}-${occurredAt}`,
              })),
            },
          ]),
        ).rejects.toThrow('needs occurredAt');
      }
      expect((await store.readStreams([A])).versions.get(A)).toBe(1);
    });

    it('stamps recordedAt from the system clock by default', async () => {
      const before = Date.now();
      const [event] = (
        await store.append([
          { streamId: A, expected: ExpectedVersion.any, events: [testEvent('E1')] },
        ])
      ).events;
      const recordedAt = Date.parse(event!.recordedAt);
      expect(new Date(recordedAt).toISOString()).toBe(event!.recordedAt);
      expect(recordedAt).toBeGreaterThanOrEqual(before);
      expect(recordedAt).toBeLessThanOrEqual(Date.now());
    });
  });

  it('merges any number of streams read at once by global position', async () => {
    const ids = ['s-0', 's-1', 's-2', 's-3', 's-4'].map((id) => streamId(id));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 40 }),
        fc.subarray(ids, { minLength: 1 }),
        async (targets, wanted) => {
          const fresh = new InMemoryEventStore();
          for (const target of targets) {
            await fresh.append([
              { streamId: ids[target]!, expected: ExpectedVersion.any, events: [testEvent('E')] },
            ]);
          }
          const { events: log } = await fresh.readAll({ limit: 100 });
          const { events } = await fresh.readStreams(wanted);
          expect(events).toEqual(log.filter((e) => wanted.includes(e.streamId)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('stamps recordedAt from the injected clock', async () => {
    const clocked = new InMemoryEventStore({
      clock: { now: () => new Date('2030-01-02T03:04:05.678Z') },
    });
    const result = await clocked.append([
      { streamId: A, expected: ExpectedVersion.any, events: [testEvent('E1')] },
    ]);
    expect(result.events[0]!.recordedAt).toBe('2030-01-02T03:04:05.678Z');
    await clocked.close();
  });
});

describe('InMemoryEventStore DCB specifics', () => {
  const A = streamId('account-1');
  let store: InMemoryEventStore;

  beforeEach(() => {
    store = new InMemoryEventStore();
  });

  afterEach(async () => {
    await store.close();
  });

  it("freezes its own copy of the tags, keeping their order, and never shares the caller's", async () => {
    const tags = ['course:c1', 'student:s1'];
    const [recorded] = (await dcbAppend(store, [testEvent('Subscribed', {}, { tags })])).events;
    tags.reverse();
    tags.push('forged');
    expect(recorded!.tags).toEqual(['course:c1', 'student:s1']);
    expect(Object.isFrozen(recorded!.tags)).toBe(true);
    expect(() => (recorded!.tags as string[]).push('x')).toThrow(TypeError);
    const [untagged] = (
      await store.append([{ streamId: A, expected: ExpectedVersion.any, events: [testEvent('E')] }])
    ).events;
    expect(untagged!.tags).toEqual([]);
    expect(Object.isFrozen(untagged!.tags)).toBe(true);
  });

  it('hands out the stored instances from read, as from readAll', async () => {
    const { events } = await dcbAppend(store, [testEvent('A', {}, { tags: ['t'] })]);
    const read = await store.read({ items: [{ tags: ['t'] }] });
    const page = await store.readAll({ limit: 10 });
    expect(read.events[0]).toBe(events[0]);
    expect(page.events[0]).toBe(events[0]);
  });

  it('records an event in no stream in its own stream, which readStreams and prefixes find', async () => {
    const event = testEvent('Registered', {}, { tags: ['username:ada'] });
    const result = await dcbAppend(store, [event]);
    const stream = `$event-${event.id}` as StreamId;
    expect(result.events[0]).toMatchObject({ streamId: stream, streamVersion: 1 });
    expect(result.versions.size).toBe(0);
    const read = await store.readStreams([stream]);
    expect(read.events).toEqual(result.events);
    expect(read.versions.get(stream)).toBe(1);
    const page = await store.readAll({ limit: 10, filter: { streamPrefixes: ['$event-'] } });
    expect(page.events).toEqual(result.events);
  });

  it('tells onAppended listeners of events in no stream, not of a failed condition', async () => {
    const listener = jest.fn();
    store.onAppended(listener);
    await dcbAppend(store, [testEvent('A', {}, { tags: ['t'] })]);
    expect(listener).toHaveBeenCalledTimes(1);
    await expect(
      dcbAppend(store, [testEvent('B')], { failIfEventsMatch: { items: [{ tags: ['t'] }] } }),
    ).rejects.toBeInstanceOf(AppendConditionFailedError);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('checks the condition only after ids and versions, writing nothing when any fails', async () => {
    const first = testEvent('A', {}, { tags: ['t'] });
    await dcbAppend(store, [first]);
    const failing = { failIfEventsMatch: { items: [{ tags: ['t'] }] } };
    await expect(dcbAppend(store, [{ ...first, type: 'Again' }], failing)).rejects.toThrow(
      'is already stored',
    );
    await expect(
      store.append(
        [{ streamId: A, expected: ExpectedVersion.exact(3), events: [testEvent('S')] }],
        { condition: failing, events: [testEvent('B')] },
      ),
    ).rejects.toBeInstanceOf(ConcurrencyConflictError);
    expect((await store.readAll({ limit: 10 })).events).toHaveLength(1);
  });
});

describe('InMemoryEventStore positions', () => {
  it('refuses a position past the head, which only another store could have made', async () => {
    const store = new InMemoryEventStore();
    await expect(store.readAll({ after: '5' as Position, limit: 10 })).rejects.toMatchObject({
      code: ErrorCodes.invalidPosition,
    });
  });
});
