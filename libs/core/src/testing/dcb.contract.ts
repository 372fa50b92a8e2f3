import {
  AppendConditionFailedError,
  ConcurrencyConflictError,
  ErrorCodes,
  InvalidAppendError,
  InvalidQueryError,
  StoreClosedError,
} from '../errors';
import type { EventToAppend, RecordedEvent } from '../events/event';
import { dcbAppend } from '../store/dcb-append';
import type { AppendCondition, EventQuery, EventQueryReadOptions } from '../store/event-query';
import type { AppendResult, EventStore } from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import { streamId } from '../store/stream-id';
import {
  type EventStoreContractOptions,
  openStorePerTest,
  testEvent,
} from './event-store.contract';

/**
 * The DCB part of the store contract (dcb.events: tags, query reads, append conditions, events in
 * no stream), as a jest suite. Every adapter runs it beside {@link eventStoreContract}, with the
 * same arguments: `dcbContract('postgres', () => makePostgresStore(), { teardown })`.
 *
 * `makeStore` must return a new, open store over an empty log, isolated from every other store it
 * returns. The suite compares positions only as `RecordedEvent.globalPosition` numbers (the DCB
 * position) and position tokens only with `store.comparePositions`.
 */
export function dcbContract<S extends EventStore>(
  adapterName: string,
  makeStore: () => Promise<S>,
  options: EventStoreContractOptions<S> = {},
): void {
  describe(`DCB contract: ${adapterName}`, () => {
    let store: S;
    openStorePerTest(makeStore, options, (opened) => (store = opened));

    const A = streamId('dcb-a');
    const B = streamId('dcb-b');

    /** An event in no stream (or for a stream write) with these tags. */
    const tagged = (type: string, tags?: readonly string[], data: unknown = {}): EventToAppend =>
      testEvent(type, data, tags === undefined ? {} : { tags });

    const append = (events: readonly EventToAppend[], condition?: AppendCondition) =>
      dcbAppend(store, events, condition);

    async function wholeLog(): Promise<RecordedEvent[]> {
      const events: RecordedEvent[] = [];
      let page = await store.readAll({ limit: 1000 });
      events.push(...page.events);
      while (!page.isEnd) {
        page = await store.readAll({ after: page.next, limit: 1000 });
        events.push(...page.events);
      }
      return events;
    }

    const ids = (events: readonly { readonly id: string }[]) => events.map((e) => e.id);

    async function readIds(query: EventQuery, readOptions?: EventQueryReadOptions) {
      return ids((await store.read(query, readOptions)).events);
    }

    /** Appends one event per call, so that each gets its own append (and transaction). */
    async function appendEach(events: readonly EventToAppend[]): Promise<RecordedEvent[]> {
      const recorded: RecordedEvent[] = [];
      for (const event of events) recorded.push(...(await append([event])).events);
      return recorded;
    }

    describe('tags', () => {
      it('returns the tags in the order given, and [] when none, from every read', async () => {
        const given = [
          tagged('Subscribed', ['student:s1', 'course:c1', 'a']),
          tagged('Noted'),
          tagged('Cleared', []),
        ];
        const streamed = tagged('Opened', ['z', 'account:1']);
        const result = await store.append(
          [
            {
              streamId: A,
              expected: ExpectedVersion.noStream,
              events: [streamed, tagged('Plain')],
            },
          ],
          { events: given },
        );
        const read = await store.read({ items: [] });
        const log = await wholeLog();
        const inStream = await store.readStreams([A]);
        for (const events of [result.events, read.events, log]) {
          expect(events.map((e) => e.tags)).toEqual([
            ['z', 'account:1'],
            [],
            ['student:s1', 'course:c1', 'a'],
            [],
            [],
          ]);
        }
        expect(inStream.events.map((e) => e.tags)).toEqual([['z', 'account:1'], []]);
      });

      it('keeps tags with unicode, quotes, backslashes and spaces exactly', async () => {
        const tags = ['名前:ü', 'quote"\'', 'back\\slash', 'in side', '🚀', 'a:b:c', '%_'];
        await append([tagged('Odd', tags)]);
        for (const tag of tags) {
          const read = await store.read({ items: [{ tags: [tag] }] });
          expect(read.events.map((e) => e.tags)).toEqual([tags]);
        }
        expect(await readIds({ items: [{ tags: ['%'] }] })).toEqual([]);
        expect(await readIds({ items: [{ tags: ['back\\'] }] })).toEqual([]);
      });

      it.each<[string, unknown]>([
        ['a duplicate tag', ['course:c1', 'student:s1', 'course:c1']],
        ['an empty tag', ['']],
        ['a tag with leading whitespace', [' course:c1']],
        ['a tag with a control character', ['course\nc1']],
        ['a tag with a pattern character', ['course:*']],
        ['a reserved tag', ['$all']],
        ['a tag that is not a string', [42]],
        ['a tag longer than 255 characters', ['t'.repeat(256)]],
        ['more than 64 tags', Array.from({ length: 65 }, (_, i) => `t:${i}`)],
        ['tags that are not an array', 'course:c1'],
      ])('refuses %s, in a stream or in no stream, writing nothing', async (_label, tags) => {
        const bad = (): EventToAppend => testEvent('Bad', {}, { tags: tags as string[] });
        const attempts = [
          () => store.append([], { events: [tagged('Good', ['ok']), bad()] }),
          () =>
            store.append([
              { streamId: A, expected: ExpectedVersion.any, events: [tagged('Good'), bad()] },
            ]),
          () =>
            store.append(
              [{ streamId: A, expected: ExpectedVersion.any, events: [tagged('Good')] }],
              { events: [bad()] },
            ),
        ];
        for (const attempt of attempts) {
          const error = await failureOf(attempt());
          expect(error).toBeInstanceOf(InvalidAppendError);
          expect(error).toMatchObject({ code: ErrorCodes.invalidAppend });
          expect((error as Error).message).toContain('tag');
          expect((error as Error).message).toContain('"Bad"');
        }
        expect(await wholeLog()).toEqual([]);
      });
    });

    describe('read', () => {
      /**
       * Six events, each in its own append:
       * 1 Registered [user:1] · 2 Subscribed [course:1, student:1] · 3 Subscribed [course:2,
       * student:1] · 4 Left [course:1, student:1] · 5 Subscribed [course:1, student:2] · 6 Renamed []
       */
      async function seed(): Promise<RecordedEvent[]> {
        return appendEach([
          tagged('Registered', ['user:1']),
          tagged('Subscribed', ['course:1', 'student:1']),
          tagged('Subscribed', ['course:2', 'student:1']),
          tagged('Left', ['student:1', 'course:1']),
          tagged('Subscribed', ['course:1', 'student:2']),
          tagged('Renamed'),
        ]);
      }
      const pick = (events: readonly RecordedEvent[], ...numbers: number[]) =>
        numbers.map((n) => events[n - 1]!.id);

      it('reads nothing from an empty log', async () => {
        expect((await store.read({ items: [] })).events).toEqual([]);
        expect(
          (await store.read({ items: [{ tags: ['x'] }] }, { backwards: true })).events,
        ).toEqual([]);
      });

      it('matches every event with no item, or with an item naming neither types nor tags', async () => {
        const events = await seed();
        const all = pick(events, 1, 2, 3, 4, 5, 6);
        expect(await readIds({ items: [] })).toEqual(all);
        expect(await readIds({ items: [{}] })).toEqual(all);
        expect(await readIds({ items: [{ types: [], tags: [] }] })).toEqual(all);
        expect(await readIds({ items: [{ types: ['Nothing'] }, {}] })).toEqual(all);
      });

      it('matches by type when an item names types only', async () => {
        const events = await seed();
        expect(await readIds({ items: [{ types: ['Subscribed'] }] })).toEqual(
          pick(events, 2, 3, 5),
        );
        expect(await readIds({ items: [{ types: ['Left', 'Registered'] }] })).toEqual(
          pick(events, 1, 4),
        );
        expect(await readIds({ items: [{ types: ['subscribed'] }] })).toEqual([]);
      });

      it('needs every tag of an item when it names tags only', async () => {
        const events = await seed();
        expect(await readIds({ items: [{ tags: ['course:1'] }] })).toEqual(pick(events, 2, 4, 5));
        expect(await readIds({ items: [{ tags: ['course:1', 'student:1'] }] })).toEqual(
          pick(events, 2, 4),
        );
        expect(await readIds({ items: [{ tags: ['student:1', 'course:1'] }] })).toEqual(
          pick(events, 2, 4),
        );
        expect(await readIds({ items: [{ tags: ['course:2', 'student:2'] }] })).toEqual([]);
        expect(await readIds({ items: [{ tags: ['course:9'] }] })).toEqual([]);
      });

      it('needs the type and every tag of a mixed item', async () => {
        const events = await seed();
        expect(await readIds({ items: [{ types: ['Subscribed'], tags: ['course:1'] }] })).toEqual(
          pick(events, 2, 5),
        );
        expect(
          await readIds({
            items: [{ types: ['Subscribed', 'Left'], tags: ['student:1', 'course:1'] }],
          }),
        ).toEqual(pick(events, 2, 4));
        expect(await readIds({ items: [{ types: ['Registered'], tags: ['course:1'] }] })).toEqual(
          [],
        );
      });

      it('combines items with OR, returning each event once, in log order', async () => {
        const events = await seed();
        expect(
          await readIds({ items: [{ types: ['Registered'] }, { tags: ['course:2'] }] }),
        ).toEqual(pick(events, 1, 3));
        expect(
          await readIds({
            items: [
              { tags: ['student:1'] },
              { types: ['Subscribed'] },
              { types: ['Subscribed'], tags: ['course:1'] },
            ],
          }),
        ).toEqual(pick(events, 2, 3, 4, 5));
      });

      it('starts at from, inclusive, and returns nothing from beyond the head', async () => {
        const events = await seed();
        const at = (n: number) => events[n - 1]!.globalPosition;
        expect(await readIds({ items: [] }, { from: at(3) })).toEqual(pick(events, 3, 4, 5, 6));
        expect(await readIds({ items: [{ tags: ['course:1'] }] }, { from: at(4) })).toEqual(
          pick(events, 4, 5),
        );
        expect(await readIds({ items: [{ tags: ['course:1'] }] }, { from: at(4) + 1 })).toEqual(
          pick(events, 5),
        );
        expect(await readIds({ items: [] }, { from: 0 })).toEqual(pick(events, 1, 2, 3, 4, 5, 6));
        expect(await readIds({ items: [] }, { from: at(6) + 1 })).toEqual([]);
      });

      it('reads backwards, newest first, from the head or from `from` (inclusive) down', async () => {
        const events = await seed();
        const at = (n: number) => events[n - 1]!.globalPosition;
        expect(await readIds({ items: [] }, { backwards: true })).toEqual(
          pick(events, 6, 5, 4, 3, 2, 1),
        );
        expect(await readIds({ items: [] }, { backwards: true, from: at(4) })).toEqual(
          pick(events, 4, 3, 2, 1),
        );
        expect(
          await readIds({ items: [{ tags: ['course:1'] }] }, { backwards: true, from: at(4) - 1 }),
        ).toEqual(pick(events, 2));
        expect(await readIds({ items: [] }, { backwards: true, from: at(6) + 100 })).toEqual(
          pick(events, 6, 5, 4, 3, 2, 1),
        );
        expect(await readIds({ items: [] }, { backwards: true, from: 0 })).toEqual([]);
        expect(await readIds({ items: [] }, { backwards: false })).toEqual(
          pick(events, 1, 2, 3, 4, 5, 6),
        );
      });

      it('returns at most limit events, the first ones in the direction read', async () => {
        const events = await seed();
        const at = (n: number) => events[n - 1]!.globalPosition;
        expect(await readIds({ items: [] }, { limit: 2 })).toEqual(pick(events, 1, 2));
        expect(await readIds({ items: [{ types: ['Subscribed'] }] }, { limit: 2 })).toEqual(
          pick(events, 2, 3),
        );
        expect(await readIds({ items: [] }, { limit: 2, backwards: true })).toEqual(
          pick(events, 6, 5),
        );
        expect(
          await readIds(
            { items: [{ tags: ['student:1'] }] },
            { limit: 2, backwards: true, from: at(4) },
          ),
        ).toEqual(pick(events, 4, 3));
        expect(await readIds({ items: [] }, { limit: 1, from: at(5) })).toEqual(pick(events, 5));
        expect(await readIds({ items: [] }, { limit: 10_000 })).toHaveLength(6);
      });

      it('returns the events with their global positions: unique, increasing in log order', async () => {
        const appended = await seed();
        const log = await wholeLog();
        const read = (await store.read({ items: [] })).events;
        const backwards = (await store.read({ items: [] }, { backwards: true })).events;
        expect(read).toEqual(log);
        expect(read).toEqual(appended);
        expect([...backwards].reverse()).toEqual(read);
        const positions = read.map((e) => e.globalPosition);
        for (const p of positions) expect(Number.isSafeInteger(p) && p > 0).toBe(true);
        for (let i = 1; i < positions.length; i++) {
          expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
        }
        // One append of several events: positions rise in the order given.
        const batch = await append([tagged('X', ['b']), tagged('Y', ['b']), tagged('Z', ['b'])]);
        const more = batch.events.map((e) => e.globalPosition);
        expect(more[0]!).toBeGreaterThan(positions[positions.length - 1]!);
        expect(more[1]!).toBeGreaterThan(more[0]!);
        expect(more[2]!).toBeGreaterThan(more[1]!);
        expect((await store.read({ items: [{ tags: ['b'] }] })).events).toEqual(batch.events);
      });

      it('returns a position token at or after every event read, usable with comparePositions', async () => {
        const empty = await store.read({ items: [] });
        const first = await append([tagged('A', ['p'])]);
        const second = await append([tagged('B', ['q'])]);
        const read = await store.read({ items: [{ tags: ['p'] }] });
        expect(store.comparePositions(read.position, first.position)).toBeGreaterThanOrEqual(0);
        expect(store.comparePositions(read.position, empty.position)).toBeGreaterThan(0);
        expect(store.comparePositions(read.position, read.position)).toBe(0);
        const after = await store.readAll({ after: read.position, limit: 100 });
        expect(ids(after.events)).not.toContain(first.events[0]!.id);
        const third = await append([tagged('C', ['p'])]);
        expect(store.comparePositions(third.position, read.position)).toBeGreaterThan(0);
        expect(store.comparePositions(second.position, first.position)).toBeGreaterThan(0);
      });

      it('returns data exactly as sent: a JSON string stays a string, objects keep their shape', async () => {
        const payloads: unknown[] = [
          '{"type":"CourseDefined","capacity":10}',
          '',
          'plain text with "quotes" and \\ and ünïcödé 🚀',
          { nested: { list: [1, 'two', { three: [null, true, 4.5] }], empty: {} }, n: -0.25 },
          [1, [2, [3]]],
          42,
          false,
          null,
        ];
        const sent = payloads.map((data) => tagged('Data', ['data'], data));
        const result = await append(sent);
        const read = await store.read({ items: [{ tags: ['data'] }] });
        const log = await wholeLog();
        for (const events of [result.events, read.events, log]) {
          expect(events.map((e) => e.data)).toEqual(payloads);
          expect(typeof events[0]!.data).toBe('string');
          expect(events[0]!.data).toBe('{"type":"CourseDefined","capacity":10}');
          expect(JSON.parse(events[0]!.data as string)).toEqual({
            type: 'CourseDefined',
            capacity: 10,
          });
        }
      });

      it.each<[string, unknown, unknown]>([
        ['a query that is not an object', 'all', undefined],
        ['items that are not an array', { items: 'x' }, undefined],
        ['an item that is not an object', { items: [7] }, undefined],
        ['types that are not strings', { items: [{ types: [1] }] }, undefined],
        ['an empty type', { items: [{ types: [''] }] }, undefined],
        ['an invalid tag', { items: [{ tags: ['a*'] }] }, undefined],
        ['an unknown item key', { items: [{ tag: ['x'] }] }, undefined],
        ['a negative from', { items: [] }, { from: -1 }],
        ['a fractional from', { items: [] }, { from: 1.5 }],
        ['a limit of 0', { items: [] }, { limit: 0 }],
        ['a limit above 10,000', { items: [] }, { limit: 10_001 }],
        ['backwards not a boolean', { items: [] }, { backwards: 'yes' }],
        ['an unknown option', { items: [] }, { after: 1 }],
      ])('refuses %s with InvalidQueryError', async (_label, query, readOptions) => {
        await append([tagged('A', ['t'])]);
        const error = await failureOf(
          store.read(query as EventQuery, readOptions as EventQueryReadOptions),
        );
        expect(error).toBeInstanceOf(InvalidQueryError);
        expect(error).toMatchObject({ code: ErrorCodes.invalidQuery });
      });
    });

    describe('append conditions', () => {
      const course1: EventQuery = { items: [{ tags: ['course:1'] }] };

      async function expectConditionFailed(
        attempt: Promise<AppendResult>,
        condition: AppendCondition,
      ): Promise<void> {
        const error = await failureOf(attempt);
        expect(error).toBeInstanceOf(AppendConditionFailedError);
        expect(error).toMatchObject({
          code: ErrorCodes.appendConditionFailed,
          query: condition.failIfEventsMatch,
          after: condition.after,
        });
      }

      it('fails, writing nothing, when a matching event sits after `after`', async () => {
        await append([tagged('Defined', ['course:1'])]);
        const read = await store.read(course1);
        const after = read.events[read.events.length - 1]!.globalPosition;
        await append([tagged('Subscribed', ['course:1', 'student:2'])]);
        const before = await wholeLog();

        const late = tagged('Subscribed', ['course:1', 'student:1']);
        const condition = { failIfEventsMatch: course1, after };
        await expectConditionFailed(append([late], condition), condition);
        expect(await wholeLog()).toEqual(before);
        // Nothing of it was stored: the same event can be appended once the decision is redone.
        const retried = await append([late], {
          failIfEventsMatch: course1,
          after: before[before.length - 1]!.globalPosition,
        });
        expect(ids(retried.events)).toEqual([late.id]);
      });

      it('holds when only non-matching events, or matching ones at or before `after`, exist', async () => {
        const [defined] = await appendEach([tagged('Defined', ['course:1'])]);
        await appendEach([
          tagged('Defined', ['course:2']),
          tagged('Subscribed', ['course:2', 'student:1']),
          tagged('Unrelated'),
        ]);
        const condition = { failIfEventsMatch: course1, after: defined!.globalPosition };
        const result = await append([tagged('Subscribed', ['course:1', 'student:1'])], condition);
        expect(result.events).toHaveLength(1);
        // A type condition: a matching type exists only at `after`.
        const typed = { items: [{ types: ['Unrelated'] }] };
        const [last] = (await store.read(typed, { backwards: true, limit: 1 })).events;
        await append([tagged('Other')], { failIfEventsMatch: typed, after: last!.globalPosition });
        expect(await wholeLog()).toHaveLength(6);
      });

      it('fails when a matching event sits right after `after`, and with after 0 on any match', async () => {
        const [first, second] = await appendEach([tagged('A', ['t']), tagged('B', ['t'])]);
        const right = {
          failIfEventsMatch: { items: [{ tags: ['t'] }] },
          after: first!.globalPosition,
        };
        await expectConditionFailed(append([tagged('C')], right), right);
        const zero = { failIfEventsMatch: { items: [{ types: ['A'] }] }, after: 0 };
        await expectConditionFailed(append([tagged('C')], zero), zero);
        await append([tagged('C')], { ...right, after: second!.globalPosition });
        expect(await wholeLog()).toHaveLength(3);
      });

      it('without `after`, fails on any matching event and holds when there is none', async () => {
        const unique = { failIfEventsMatch: { items: [{ tags: ['username:ada'] }] } };
        await append([tagged('Registered', ['username:ada'])], unique);
        await expectConditionFailed(
          append([tagged('Registered', ['username:ada'])], unique),
          unique,
        );
        const bob = { failIfEventsMatch: { items: [{ tags: ['username:bob'] }] } };
        await append([tagged('Registered', ['username:bob'])], bob);
        const all = { failIfEventsMatch: { items: [] } };
        await expectConditionFailed(append([tagged('Anything')], all), all);
        expect((await wholeLog()).map((e) => e.tags)).toEqual([['username:ada'], ['username:bob']]);
      });

      it('with a query for all events, holds on an empty log and fails after any event', async () => {
        const all = { failIfEventsMatch: { items: [] } };
        await append([tagged('First')], all);
        await expectConditionFailed(append([tagged('Second')], all), all);
        const [head] = (await store.read({ items: [] }, { backwards: true, limit: 1 })).events;
        await append([tagged('Second')], { ...all, after: head!.globalPosition });
        expect(await wholeLog()).toHaveLength(2);
      });

      it('guards with the events of a stream too, which carry tags (the side door)', async () => {
        await append([tagged('Defined', ['course:1'])]);
        const decision = await store.read(course1);
        const after = decision.events[decision.events.length - 1]!.globalPosition;
        const streamed = tagged('Opened', ['course:1']);
        const written = await store.append([
          { streamId: A, expected: ExpectedVersion.noStream, events: [streamed] },
        ]);
        const read = await store.read(course1, { from: after + 1 });
        expect(read.events).toEqual(written.events);
        expect(read.events[0]).toMatchObject({ streamId: A, streamVersion: 1, tags: ['course:1'] });

        const condition = { failIfEventsMatch: course1, after };
        await expectConditionFailed(
          append([tagged('Subscribed', ['course:1'])], condition),
          condition,
        );
        // An untagged stream event guards a condition on its type.
        await store.append([
          { streamId: B, expected: ExpectedVersion.any, events: [tagged('Closed')] },
        ]);
        const byType = {
          failIfEventsMatch: { items: [{ types: ['Closed'] }] },
          after: written.events[0]!.globalPosition,
        };
        await expectConditionFailed(append([tagged('Reopened')], byType), byType);
        expect(await wholeLog()).toHaveLength(3);
      });

      it('stores a stream event with tags in its stream, found by readStreams and by a query', async () => {
        const event = tagged('Deposited', ['account:1', 'branch:x'], { amount: 5 });
        await store.append([{ streamId: A, expected: ExpectedVersion.noStream, events: [event] }]);
        const inStream = await store.readStreams([A]);
        const byTags = await store.read({ items: [{ tags: ['branch:x', 'account:1'] }] });
        expect(byTags.events).toEqual(inStream.events);
        expect(inStream.events[0]).toMatchObject({
          id: event.id,
          streamId: A,
          streamVersion: 1,
          type: 'Deposited',
          tags: ['account:1', 'branch:x'],
          data: { amount: 5 },
        });
      });

      it.each<[string, unknown]>([
        ['a negative after', { failIfEventsMatch: { items: [] }, after: -1 }],
        ['a fractional after', { failIfEventsMatch: { items: [] }, after: 0.5 }],
        ['after as a string', { failIfEventsMatch: { items: [] }, after: '3' }],
        ['no query', { after: 3 }],
        ['a malformed query', { failIfEventsMatch: { items: [{ tags: [''] }] } }],
        ['an unknown key', { failIfEventsMatch: { items: [] }, from: 3 }],
      ])(
        'refuses a condition with %s (InvalidQueryError), writing nothing',
        async (_l, condition) => {
          const attempts = [
            () => append([tagged('A', ['t'])], condition as AppendCondition),
            () =>
              store.append(
                [{ streamId: A, expected: ExpectedVersion.any, events: [tagged('S')] }],
                { condition: condition as AppendCondition },
              ),
          ];
          for (const attempt of attempts) {
            const error = await failureOf(attempt());
            expect(error).toBeInstanceOf(InvalidQueryError);
            expect(error).toMatchObject({ code: ErrorCodes.invalidQuery });
          }
          expect(await wholeLog()).toEqual([]);
        },
      );

      it('lets exactly one of 20 concurrent appends under the same condition win', async () => {
        const [defined] = await appendEach([tagged('Defined', ['seat:1'])]);
        const condition = {
          failIfEventsMatch: { items: [{ tags: ['seat:1'] }] },
          after: defined!.globalPosition,
        };
        const settled = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => append([tagged(`Took${i}`, ['seat:1'])], condition)),
        );
        const won = settled.filter((s) => s.status === 'fulfilled');
        const lost = settled.filter((s) => s.status === 'rejected');
        expect(won).toHaveLength(1);
        for (const failure of lost) {
          expect(failure.reason).toBeInstanceOf(AppendConditionFailedError);
        }
        expect((await store.read(condition.failIfEventsMatch)).events).toHaveLength(2);
      });

      it('lets 20 concurrent appends under unrelated conditions all succeed', async () => {
        const settled = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            append([tagged('Took', [`seat:${i}`])], {
              failIfEventsMatch: { items: [{ tags: [`seat:${i}`] }] },
            }),
          ),
        );
        expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
        const log = await wholeLog();
        expect(log).toHaveLength(20);
        expect(new Set(log.map((e) => e.globalPosition)).size).toBe(20);
      });
    });

    describe('events in no stream', () => {
      it('records each in its own $event-<id> stream at version 1, in readAll in position order', async () => {
        const first = tagged('Registered', ['user:1']);
        await append([first]);
        await store.append([
          { streamId: A, expected: ExpectedVersion.noStream, events: [tagged('Opened')] },
        ]);
        const [second, third] = [tagged('Subscribed', ['course:1']), tagged('Noted')];
        await append([second, third]);
        await store.append([
          { streamId: A, expected: ExpectedVersion.exact(1), events: [tagged('Deposited')] },
        ]);

        const log = await wholeLog();
        expect(log.map((e) => [e.type, e.streamId, e.streamVersion])).toEqual([
          ['Registered', `$event-${first.id}`, 1],
          ['Opened', A, 1],
          ['Subscribed', `$event-${second.id}`, 1],
          ['Noted', `$event-${third.id}`, 1],
          ['Deposited', A, 2],
        ]);
        const positions = log.map((e) => e.globalPosition);
        for (let i = 1; i < positions.length; i++) {
          expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
        }
        const unstreamed = await store.readAll({
          limit: 100,
          filter: { streamPrefixes: ['$event-'] },
        });
        expect(ids(unstreamed.events)).toEqual([first.id, second.id, third.id]);
        const typed = await store.readAll({ limit: 100, filter: { eventTypes: ['Subscribed'] } });
        expect(ids(typed.events)).toEqual([second.id]);
        expect((await store.readStreams([A])).versions.get(A)).toBe(2);
      });

      it('keeps id, type, data, schema version, metadata and occurredAt', async () => {
        const event = testEvent(
          'Subscribed',
          { student: 's1', course: 'c1' },
          {
            tags: ['course:c1'],
            schemaVersion: 2,
            occurredAt: '2024-05-06T07:08:09.123Z',
            metadata: {
              correlationId: 'corr-1',
              causationId: 'cause-1',
              userId: 'user-42',
              custom: { tenant: 'acme' },
            },
          },
        );
        const result = await append([event]);
        const read = await store.read({ items: [{ tags: ['course:c1'] }] });
        for (const events of [result.events, read.events, await wholeLog()]) {
          expect(events).toHaveLength(1);
          expect(events[0]).toMatchObject({
            id: event.id,
            type: 'Subscribed',
            data: { student: 's1', course: 'c1' },
            schemaVersion: 2,
            metadata: event.metadata,
            occurredAt: '2024-05-06T07:08:09.123Z',
            tags: ['course:c1'],
          });
        }
      });

      it('refuses an event id that is already stored, writing nothing', async () => {
        const event = tagged('Once', ['t']);
        await append([event]);
        const error = await failureOf(append([tagged('Fresh'), { ...event, type: 'Again' }]));
        expect(error).toBeInstanceOf(InvalidAppendError);
        expect(ids(await wholeLog())).toEqual([event.id]);
      });

      it('refuses an append with neither a stream write nor an event', async () => {
        const error = await failureOf(store.append([], { events: [] }));
        expect(error).toBeInstanceOf(InvalidAppendError);
      });
    });

    describe('stream writes with a condition and events in no stream', () => {
      const guarded: EventQuery = { items: [{ tags: ['course:1'] }] };

      it('reports a version conflict first when both the versions and the condition fail', async () => {
        await store.append([
          { streamId: A, expected: ExpectedVersion.any, events: [tagged('A1')] },
        ]);
        await append([tagged('Subscribed', ['course:1'])]);
        const before = await wholeLog();
        const error = await failureOf(
          store.append(
            [{ streamId: A, expected: ExpectedVersion.noStream, events: [tagged('A2')] }],
            {
              condition: { failIfEventsMatch: guarded },
              events: [tagged('X', ['course:1'])],
            },
          ),
        );
        expect(error).toBeInstanceOf(ConcurrencyConflictError);
        expect(error).toMatchObject({
          conflicts: [{ streamId: A, expected: ExpectedVersion.noStream, actual: 1 }],
        });
        expect(await wholeLog()).toEqual(before);
      });

      it('writes nothing of any stream or event when only the condition fails', async () => {
        await append([tagged('Subscribed', ['course:1'])]);
        const before = await wholeLog();
        const condition = { failIfEventsMatch: guarded, after: 0 };
        await expectFailure(
          store.append(
            [
              { streamId: A, expected: ExpectedVersion.noStream, events: [tagged('A1')] },
              { streamId: B, expected: ExpectedVersion.any, events: [tagged('B1', ['x'])] },
            ],
            { condition, events: [tagged('Free', ['y'])] },
          ),
          AppendConditionFailedError,
        );
        expect(await wholeLog()).toEqual(before);
        const read = await store.readStreams([A, B]);
        expect(read.versions.get(A)).toBe(0);
        expect(read.versions.get(B)).toBe(0);
      });

      it('writes nothing when only a version conflicts', async () => {
        await store.append([
          { streamId: A, expected: ExpectedVersion.any, events: [tagged('A1')] },
        ]);
        const before = await wholeLog();
        await expectFailure(
          store.append(
            [{ streamId: A, expected: ExpectedVersion.exact(5), events: [tagged('A2')] }],
            { condition: { failIfEventsMatch: guarded }, events: [tagged('Free', ['y'])] },
          ),
          ConcurrencyConflictError,
        );
        expect(await wholeLog()).toEqual(before);
      });

      it('writes everything when both hold: stream events first, then events in no stream', async () => {
        const [a1, b1, free1, free2] = [
          tagged('A1', ['course:2']),
          tagged('B1'),
          tagged('Free', ['course:2']),
          tagged('Free'),
        ];
        const result = await store.append(
          [
            { streamId: A, expected: ExpectedVersion.noStream, events: [a1] },
            { streamId: B, expected: ExpectedVersion.noStream, events: [b1] },
          ],
          { condition: { failIfEventsMatch: guarded }, events: [free1, free2] },
        );
        expect(ids(result.events)).toEqual(ids([a1, b1, free1, free2]));
        expect(result.versions.get(A)).toBe(1);
        expect(result.versions.get(B)).toBe(1);
        const positions = result.events.map((e) => e.globalPosition);
        for (let i = 1; i < positions.length; i++) {
          expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
        }
        expect(await wholeLog()).toEqual(result.events);
        expect(ids((await store.read({ items: [{ tags: ['course:2'] }] })).events)).toEqual(
          ids([a1, free1]),
        );
      });
    });

    it('refuses reads after close with StoreClosedError', async () => {
      await store.close();
      await expectFailure(store.read({ items: [] }), StoreClosedError);
      await expectFailure(append([tagged('Late')]), StoreClosedError);
    });
  });
}

async function expectFailure(
  attempt: Promise<unknown>,
  type: abstract new (...args: never[]) => unknown,
): Promise<void> {
  const error = await failureOf(attempt);
  expect(error).toBeInstanceOf(type);
}

/** The error `attempt` rejects with; undefined when it succeeds. */
function failureOf(attempt: Promise<unknown>): Promise<unknown> {
  return attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
}
