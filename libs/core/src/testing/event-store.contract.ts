import fc from 'fast-check';
import {
  ConcurrencyConflictError,
  ErrorCodes,
  EventSerializationError,
  InvalidAppendError,
  InvalidOptionsError,
  InvalidPositionError,
  StoreClosedError,
  UnstorableTextError,
  type ErrorCode,
  type StreamConflict,
} from '../errors';
import type { EventToAppend, RecordedEvent } from '../events/event';
import { newEventId } from '../events/event-id';
import type {
  AppendResult,
  EventStore,
  Position,
  ReadAllFilter,
  StreamWrite,
} from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import { streamId, type StreamId } from '../store/stream-id';

/** Options of {@link eventStoreContract}. */
export interface EventStoreContractOptions<S extends EventStore = EventStore> {
  /**
   * Runs after each store made by `makeStore` has been closed, e.g. to drop the database schema
   * it used. @default nothing
   */
  readonly teardown?: (store: S) => Promise<void>;
}

/**
 * Builds an {@link EventToAppend} with a fresh UUIDv7 id, valid metadata and the current time,
 * for tests. `overrides` replaces any field (including with invalid values, to test refusals).
 */
export function testEvent(
  type: string,
  data: unknown = {},
  overrides: Partial<EventToAppend> = {},
): EventToAppend {
  const id = newEventId();
  return {
    id,
    type,
    data,
    metadata: {
      correlationId: `correlation-${id}`,
      causationId: `causation-${id}`,
      userId: null,
      custom: {},
    },
    occurredAt: new Date().toISOString(),
    ...overrides,
  };
}

/** Closes a store a contract opened, then runs the adapter's `teardown` (even if closing threw). */
async function disposeStore<S extends EventStore>(
  store: S,
  options: EventStoreContractOptions<S>,
): Promise<void> {
  try {
    await store.close();
  } finally {
    await options.teardown?.(store);
  }
}

/**
 * Registers, in the calling `describe`, a fresh store for every test (handed to `use`), closed and
 * torn down after it; a store whose opening failed is not closed. Shared by the contract suites.
 */
export function openStorePerTest<S extends EventStore>(
  makeStore: () => Promise<S>,
  options: EventStoreContractOptions<S>,
  use: (store: S) => void,
): void {
  let opened: S | undefined;
  beforeEach(async () => {
    opened = undefined;
    opened = await makeStore();
    use(opened);
  });
  afterEach(async () => {
    if (opened !== undefined) await disposeStore(opened, options);
  });
}

/**
 * The contract every {@link EventStore} adapter must pass, as a jest suite. Call it at the top level
 * of an adapter's spec file: `eventStoreContract('postgres', async () => makePostgresStore())`.
 *
 * `makeStore` must return a new, open store over an empty log, isolated from every other store it
 * returns (a fresh schema or database for SQL adapters): each test gets its own store, closes it
 * (`close()` must therefore be idempotent) and then calls `teardown`. The suite treats positions
 * as opaque and compares them only with `store.comparePositions`; it compares events by value.
 */
export function eventStoreContract<S extends EventStore>(
  adapterName: string,
  makeStore: () => Promise<S>,
  options: EventStoreContractOptions<S> = {},
): void {
  const dispose = (store: S) => disposeStore(store, options);

  describe(`EventStore contract: ${adapterName}`, () => {
    let store: S;
    openStorePerTest(makeStore, options, (opened) => (store = opened));

    const A = streamId('contract-a');
    const B = streamId('contract-b');
    const C = streamId('contract-c');
    const D = streamId('contract-d');

    async function appendOne(
      id: StreamId,
      type = 'Happened',
      data: unknown = {},
    ): Promise<AppendResult> {
      return store.append([
        { streamId: id, expected: ExpectedVersion.any, events: [testEvent(type, data)] },
      ]);
    }

    function readToEnd(
      filter?: ReadAllFilter,
      limit = 1000,
      after?: Position,
    ): Promise<{ events: RecordedEvent[]; next: Position | undefined }> {
      return readLog(store, filter, limit, after);
    }

    describe('readStreams', () => {
      it('reports a stream that does not exist at version 0 with no events', async () => {
        const result = await store.readStreams([A]);
        expect(result.events).toEqual([]);
        expect(result.versions.get(A)).toBe(0);
        expect(result.versions.size).toBe(1);
      });

      it('returns only the requested streams, each in version order, merged by global position', async () => {
        const a1 = (await appendOne(A, 'A1')).events[0]!;
        const b1 = (await appendOne(B, 'B1')).events[0]!;
        await appendOne(C, 'C1');
        const a2 = (await appendOne(A, 'A2')).events[0]!;
        const multi = await store.append([
          {
            streamId: B,
            expected: ExpectedVersion.exact(1),
            events: [testEvent('B2'), testEvent('B3')],
          },
          { streamId: A, expected: ExpectedVersion.exact(2), events: [testEvent('A3')] },
        ]);
        const [b2, b3, a3] = multi.events;

        for (const request of [
          [A, B],
          [B, A],
        ]) {
          const result = await store.readStreams(request);
          expect(result.events.map((e) => e.id)).toEqual(
            [a1, b1, a2, b2!, b3!, a3!].map((e) => e.id),
          );
          const positions = result.events.map((e) => e.globalPosition);
          expect(positions).toEqual([...positions].sort((x, y) => x - y));
          expect(new Set(positions).size).toBe(positions.length);
          expect(result.events.filter((e) => e.streamId === A).map((e) => e.streamVersion)).toEqual(
            [1, 2, 3],
          );
          expect(result.events.filter((e) => e.streamId === B).map((e) => e.streamVersion)).toEqual(
            [1, 2, 3],
          );
          expect(result.versions.get(A)).toBe(3);
          expect(result.versions.get(B)).toBe(3);
          expect(result.versions.has(C)).toBe(false);
        }

        const mixed = await store.readStreams([C, D]);
        expect(mixed.events.map((e) => e.type)).toEqual(['C1']);
        expect(mixed.versions.get(C)).toBe(1);
        expect(mixed.versions.get(D)).toBe(0);
      });

      it('is not confused by duplicate ids in the request', async () => {
        await appendOne(A);
        await appendOne(B);
        await appendOne(A);
        const once = await store.readStreams([A, B]);
        const repeated = await store.readStreams([A, A, B, A, B]);
        expect(repeated.events).toEqual(once.events);
        expect(repeated.events).toHaveLength(3);
        expect(repeated.versions.get(A)).toBe(2);
        expect(repeated.versions.get(B)).toBe(1);
        expect(repeated.versions.size).toBe(2);
      });

      it('returns a position at or after every event it read', async () => {
        const empty = await store.readStreams([A]);
        const first = await appendOne(A);
        await appendOne(C);
        const second = await appendOne(B);
        const result = await store.readStreams([A, B]);
        expect(store.comparePositions(result.position, first.position)).toBeGreaterThanOrEqual(0);
        expect(store.comparePositions(result.position, second.position)).toBeGreaterThanOrEqual(0);
        expect(store.comparePositions(result.position, empty.position)).toBeGreaterThan(0);
        // Nothing read lies after the returned position.
        const { events: later } = await readToEnd(undefined, 1000, result.position);
        const read = new Set(result.events.map((e) => e.id));
        expect(later.filter((e) => read.has(e.id))).toEqual([]);
      });
    });

    describe('append', () => {
      describe('expected versions', () => {
        it('exact 0 creates a stream and refuses an existing one', async () => {
          await store.append([
            { streamId: A, expected: ExpectedVersion.noStream, events: [testEvent('X')] },
          ]);
          const error = await rejection(
            store.append([
              { streamId: A, expected: ExpectedVersion.exact(0), events: [testEvent('Y')] },
            ]),
          );
          expectConflicts(error, [{ streamId: A, expected: ExpectedVersion.exact(0), actual: 1 }]);
          expect((await store.readStreams([A])).events.map((e) => e.type)).toEqual(['X']);
        });

        it('exact n succeeds only at version n', async () => {
          await appendOne(A);
          await appendOne(A);
          for (const wrong of [0, 1, 3, 7]) {
            const error = await rejection(
              store.append([
                { streamId: A, expected: ExpectedVersion.exact(wrong), events: [testEvent('Y')] },
              ]),
            );
            expectConflicts(error, [
              { streamId: A, expected: ExpectedVersion.exact(wrong), actual: 2 },
            ]);
          }
          const result = await store.append([
            { streamId: A, expected: ExpectedVersion.exact(2), events: [testEvent('Z')] },
          ]);
          expect(result.events[0]!.streamVersion).toBe(3);
          expect(result.versions.get(A)).toBe(3);
          expect((await store.readStreams([A])).versions.get(A)).toBe(3);
        });

        it('exact n on a stream that does not exist conflicts with actual 0', async () => {
          const error = await rejection(
            store.append([
              { streamId: A, expected: ExpectedVersion.exact(1), events: [testEvent('Y')] },
            ]),
          );
          expectConflicts(error, [{ streamId: A, expected: ExpectedVersion.exact(1), actual: 0 }]);
        });

        it('any accepts a new stream and an existing one', async () => {
          await store.append([
            { streamId: A, expected: ExpectedVersion.any, events: [testEvent('X')] },
          ]);
          const result = await store.append([
            { streamId: A, expected: ExpectedVersion.any, events: [testEvent('Y')] },
          ]);
          expect(result.events[0]!.streamVersion).toBe(2);
          expect((await store.readStreams([A])).versions.get(A)).toBe(2);
        });

        it('exists refuses a new stream and accepts an existing one', async () => {
          const error = await rejection(
            store.append([
              { streamId: A, expected: ExpectedVersion.exists, events: [testEvent('X')] },
            ]),
          );
          expectConflicts(error, [{ streamId: A, expected: ExpectedVersion.exists, actual: 0 }]);
          expect((await store.readStreams([A])).versions.get(A)).toBe(0);

          await appendOne(A);
          const result = await store.append([
            { streamId: A, expected: ExpectedVersion.exists, events: [testEvent('Y')] },
          ]);
          expect(result.events[0]!.streamVersion).toBe(2);
        });
      });

      describe('guards (writes without events)', () => {
        it('a guard whose version moved fails the whole append and writes nothing', async () => {
          await appendOne(A);
          const before = await readToEnd();
          const error = await rejection(
            store.append([
              { streamId: B, expected: ExpectedVersion.noStream, events: [testEvent('B1')] },
              { streamId: A, expected: ExpectedVersion.noStream, events: [] },
            ]),
          );
          expectConflicts(error, [{ streamId: A, expected: ExpectedVersion.noStream, actual: 1 }]);
          const after = await store.readStreams([A, B]);
          expect(after.versions.get(A)).toBe(1);
          expect(after.versions.get(B)).toBe(0);
          expect((await readToEnd()).events).toEqual(before.events);
        });

        it('a guard that holds lets the other writes through and adds nothing to its stream', async () => {
          await appendOne(A);
          const result = await store.append([
            { streamId: A, expected: ExpectedVersion.exact(1), events: [] },
            { streamId: D, expected: ExpectedVersion.noStream, events: [] },
            { streamId: B, expected: ExpectedVersion.noStream, events: [testEvent('B1')] },
          ]);
          expect(result.events.map((e) => e.streamId)).toEqual([B]);
          expect(result.versions.get(A)).toBe(1);
          expect(result.versions.get(D)).toBe(0);
          expect(result.versions.get(B)).toBe(1);
          const read = await store.readStreams([A, B, D]);
          expect(read.versions.get(A)).toBe(1);
          expect(read.versions.get(D)).toBe(0);
          expect((await readToEnd()).events).toHaveLength(2);
        });

        it('an append of guards only writes nothing and returns a usable position', async () => {
          const last = await appendOne(A);
          const result = await store.append([
            { streamId: A, expected: ExpectedVersion.exact(1), events: [] },
          ]);
          expect(result.events).toEqual([]);
          expect(result.versions.get(A)).toBe(1);
          expect(store.comparePositions(result.position, last.position)).toBeGreaterThanOrEqual(0);
          const page = await store.readAll({ after: result.position, limit: 10 });
          expect(page.events).toEqual([]);
          expect(page.isEnd).toBe(true);
          expect((await readToEnd()).events).toHaveLength(1);
        });
      });

      describe('atomicity and conflicts', () => {
        it('writes nothing of any stream when one write conflicts', async () => {
          await appendOne(C);
          const before = await readToEnd();
          const error = await rejection(
            store.append([
              {
                streamId: A,
                expected: ExpectedVersion.noStream,
                events: [testEvent('A1'), testEvent('A2')],
              },
              { streamId: B, expected: ExpectedVersion.any, events: [testEvent('B1')] },
              { streamId: C, expected: ExpectedVersion.noStream, events: [testEvent('C2')] },
            ]),
          );
          expect(error).toBeInstanceOf(ConcurrencyConflictError);
          const read = await store.readStreams([A, B, C]);
          expect(read.events.map((e) => e.type)).toEqual(['Happened']);
          expect(read.versions.get(A)).toBe(0);
          expect(read.versions.get(B)).toBe(0);
          expect(read.versions.get(C)).toBe(1);
          expect((await readToEnd()).events).toEqual(before.events);
          // The streams really are untouched: writing them from scratch now works.
          const retry = await store.append([
            { streamId: A, expected: ExpectedVersion.noStream, events: [testEvent('A1')] },
          ]);
          expect(retry.events[0]!.streamVersion).toBe(1);
        });

        it('names every offending stream with its expected and actual version', async () => {
          await appendOne(A);
          await appendOne(B);
          await appendOne(B);
          const error = await rejection(
            store.append([
              { streamId: A, expected: ExpectedVersion.noStream, events: [testEvent('A')] },
              { streamId: B, expected: ExpectedVersion.exact(2), events: [testEvent('B')] },
              { streamId: C, expected: ExpectedVersion.exists, events: [] },
              { streamId: D, expected: ExpectedVersion.exact(3), events: [testEvent('D')] },
            ]),
          );
          expectConflicts(error, [
            { streamId: A, expected: ExpectedVersion.exact(0), actual: 1 },
            { streamId: C, expected: ExpectedVersion.exists, actual: 0 },
            { streamId: D, expected: ExpectedVersion.exact(3), actual: 0 },
          ]);
          expect((await readToEnd()).events).toHaveLength(3);
        });
      });

      describe('result and recorded events', () => {
        it('returns the events in the given order with versions, positions and stream versions', async () => {
          await appendOne(B);
          const given = [
            {
              streamId: A,
              expected: ExpectedVersion.noStream,
              events: [testEvent('A1'), testEvent('A2')],
            },
            { streamId: B, expected: ExpectedVersion.exact(1), events: [testEvent('B2')] },
            {
              streamId: C,
              expected: ExpectedVersion.any,
              events: [testEvent('C1'), testEvent('C2')],
            },
          ] satisfies StreamWrite[];
          const before = await store.readStreams([A]);
          const result = await store.append(given);

          expect(result.events.map((e) => e.id)).toEqual(
            given.flatMap((w) => w.events.map((e) => e.id)),
          );
          expect(result.events.map((e) => [e.streamId, e.streamVersion])).toEqual([
            [A, 1],
            [A, 2],
            [B, 2],
            [C, 1],
            [C, 2],
          ]);
          const positions = result.events.map((e) => e.globalPosition);
          positions.forEach((p, i) => {
            expect(Number.isSafeInteger(p)).toBe(true);
            if (i > 0) expect(p).toBeGreaterThan(positions[i - 1]!);
          });
          expect(new Map(result.versions)).toEqual(
            new Map([
              [A, 2],
              [B, 2],
              [C, 2],
            ]),
          );
          expect(store.comparePositions(result.position, before.position)).toBeGreaterThan(0);
          const after = await store.readAll({ after: result.position, limit: 10 });
          expect(after.events).toEqual([]);
          expect(after.isEnd).toBe(true);

          // What the append returned is what is stored.
          const read = await store.readStreams([A, B, C]);
          expect(read.events.filter((e) => result.events.some((r) => r.id === e.id))).toEqual(
            result.events,
          );
        });

        it('assigns strictly increasing global positions across appends, in append order', async () => {
          const results: AppendResult[] = [];
          for (const id of [A, B, A, C, B, A]) results.push(await appendOne(id));
          results.push(
            await store.append([
              {
                streamId: D,
                expected: ExpectedVersion.any,
                events: [testEvent('D1'), testEvent('D2')],
              },
              { streamId: A, expected: ExpectedVersion.any, events: [testEvent('A4')] },
            ]),
          );
          const appended = results.flatMap((r) => r.events);
          const positions = appended.map((e) => e.globalPosition);
          for (let i = 1; i < positions.length; i++) {
            expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
          }
          for (let i = 1; i < results.length; i++) {
            expect(
              store.comparePositions(results[i]!.position, results[i - 1]!.position),
            ).toBeGreaterThan(0);
          }
          const all = (await readToEnd()).events;
          expect(all.map((e) => e.id)).toEqual(appended.map((e) => e.id));
          expect(all.map((e) => e.globalPosition)).toEqual(positions);
        });

        it('keeps id, type, data, schema version, metadata and occurredAt', async () => {
          const full = testEvent(
            'Deposited',
            {
              amount: 12.5,
              currency: 'EUR',
              tags: ['a', 'b'],
              nested: { ok: true, none: null, n: -3 },
            },
            {
              schemaVersion: 3,
              occurredAt: '2024-05-06T07:08:09.123Z',
              metadata: {
                correlationId: 'corr-1',
                causationId: 'cause-1',
                userId: 'user-42',
                custom: { tenant: 'acme', trace: { span: 7, sampled: false }, list: [1, 'two'] },
              },
            },
          );
          const minimal = testEvent(
            'Withdrawn',
            { amount: 1 },
            { occurredAt: '2023-12-31T23:59:59.999Z' },
          );
          const result = await store.append([
            { streamId: A, expected: ExpectedVersion.noStream, events: [full, minimal] },
          ]);
          const read = await store.readStreams([A]);
          const all = (await readToEnd()).events;

          for (const events of [result.events, read.events, all]) {
            expect(events).toHaveLength(2);
            expect(events[0]).toMatchObject({
              id: full.id,
              streamId: A,
              streamVersion: 1,
              type: 'Deposited',
              data: full.data,
              schemaVersion: 3,
              metadata: full.metadata,
              occurredAt: '2024-05-06T07:08:09.123Z',
            });
            expect(events[1]).toMatchObject({
              id: minimal.id,
              streamId: A,
              streamVersion: 2,
              type: 'Withdrawn',
              data: { amount: 1 },
              schemaVersion: 1,
              metadata: { ...minimal.metadata, userId: null, custom: {} },
              occurredAt: '2023-12-31T23:59:59.999Z',
            });
            for (const event of events) {
              expect(event.recordedAt).toMatch(
                /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
              );
              expect(Number.isNaN(Date.parse(event.recordedAt))).toBe(false);
            }
          }
          expect(read.events).toEqual(result.events);
          expect(all).toEqual(result.events);
        });
      });
    });

    describe('binary encodings', () => {
      /** Deterministic bytes; 300 of them make base64 longer than one 76-character line. */
      const bytes = (length: number, seed = 7): string =>
        Buffer.from(Array.from({ length }, (_, i) => (i * 37 + seed) % 256)).toString('base64');

      it('returns binary-encoded events with their encoding and the very base64 they were given', async () => {
        const payloads = [bytes(300), bytes(1), bytes(2), bytes(3), '', bytes(64, 255)];
        const binary = payloads.map((data, n) =>
          testEvent('Sampled', data, { encoding: n % 2 === 0 ? 'msgpack' : 'x.bin-1' }),
        );
        const json = testEvent('Deposited', { amount: 5 });
        const result = await store.append([
          { streamId: A, expected: ExpectedVersion.noStream, events: [binary[0]!, json] },
          { streamId: B, expected: ExpectedVersion.noStream, events: binary.slice(1) },
        ]);
        const read = await store.readStreams([A, B]);
        const all = (await readToEnd()).events;
        const byId = (events: readonly RecordedEvent[]) => new Map(events.map((e) => [e.id, e]));
        for (const events of [result.events, read.events, all]) {
          expect(events).toHaveLength(binary.length + 1);
          const found = byId(events);
          for (const sent of binary) {
            expect(found.get(sent.id)).toMatchObject({
              type: 'Sampled',
              encoding: sent.encoding,
              data: sent.data,
            });
          }
          expect(found.get(json.id)!.data).toEqual({ amount: 5 });
          expect(found.get(json.id)!.encoding ?? 'json').toBe('json');
        }
        expect(read.events).toEqual(result.events);
        expect(all).toEqual(result.events);
      });

      it('returns JSON events without a binary encoding, also when it is given as json', async () => {
        const explicit = testEvent('Noted', 'AAAA', { encoding: 'json' });
        const implicit = testEvent('Noted', { text: 'wQ==' });
        await store.append([
          { streamId: A, expected: ExpectedVersion.any, events: [explicit, implicit] },
        ]);
        for (const events of [(await store.readStreams([A])).events, (await readToEnd()).events]) {
          expect(events.map((e) => e.data)).toEqual(['AAAA', { text: 'wQ==' }]);
          expect(events.map((e) => e.encoding ?? 'json')).toEqual(['json', 'json']);
        }
      });
    });

    describe('refusing bad input (nothing is written)', () => {
      async function expectNothingWritten(...ids: StreamId[]): Promise<void> {
        expect((await readToEnd()).events).toEqual([]);
        const read = await store.readStreams([A, ...ids]);
        expect(read.events).toEqual([]);
        for (const id of [A, ...ids]) expect(read.versions.get(id)).toBe(0);
      }

      /** A valid write that comes first, to show that a later bad write stops it too. */
      const good = (): StreamWrite => ({
        streamId: A,
        expected: ExpectedVersion.noStream,
        events: [testEvent('Good'), testEvent('Good')],
      });

      it('refuses an empty list of writes', async () => {
        await expectErrorOf(store.append([]), InvalidAppendError, ErrorCodes.invalidAppend);
        await expectNothingWritten();
      });

      it('refuses the same stream twice', async () => {
        await expectErrorOf(
          store.append([
            good(),
            { streamId: A, expected: ExpectedVersion.any, events: [testEvent('Again')] },
          ]),
          InvalidAppendError,
          ErrorCodes.invalidAppend,
        );
        await expectNothingWritten();
      });

      it('refuses an event id used twice in one append', async () => {
        const event = testEvent('Once');
        await expectErrorOf(
          store.append([
            good(),
            { streamId: B, expected: ExpectedVersion.any, events: [event, { ...event }] },
          ]),
          InvalidAppendError,
          ErrorCodes.invalidAppend,
        );
        await expectNothingWritten(B);
      });

      it('refuses an event id that is already stored, writing nothing', async () => {
        const event = testEvent('Once');
        await store.append([{ streamId: B, expected: ExpectedVersion.any, events: [event] }]);
        await expectErrorOf(
          store.append([
            good(),
            { streamId: C, expected: ExpectedVersion.any, events: [{ ...event }] },
          ]),
          InvalidAppendError,
          ErrorCodes.invalidAppend,
        );
        const read = await store.readStreams([A, C]);
        expect(read.events).toEqual([]);
      });

      it('refuses an occurredAt not in Date#toISOString form', async () => {
        await expectErrorOf(
          store.append([
            good(),
            {
              streamId: B,
              expected: ExpectedVersion.any,
              events: [testEvent('E', {}, { occurredAt: '2024-01-01' })],
            },
          ]),
          InvalidAppendError,
          ErrorCodes.invalidAppend,
        );
        await expectNothingWritten(B);
      });

      const badIds: [string, unknown][] = [
        ['empty', ''],
        ['blank', '   '],
        ['untrimmed', ' padded '],
        ['with *', 'a*b'],
        ['with ?', 'a?b'],
        ['with [ ]', 'a[1]'],
        ['with a newline', 'a\nb'],
        ['with NUL', 'a\u0000b'],
        ['256 characters', 'x'.repeat(256)],
        ['not a string', 42],
      ];
      it.each(badIds)('refuses an invalid stream id (%s)', async (_label, id) => {
        await expectErrorOf(
          store.append([
            good(),
            { streamId: id as StreamId, expected: ExpectedVersion.any, events: [testEvent('E')] },
          ]),
          InvalidAppendError,
          ErrorCodes.invalidAppend,
        );
        await expectNothingWritten();
      });

      const badExpectations: [string, unknown][] = [
        ['exact -1', { kind: 'exact', version: -1 }],
        ['exact 1.5', { kind: 'exact', version: 1.5 }],
        ['exact NaN', { kind: 'exact', version: Number.NaN }],
        ['exact without version', { kind: 'exact' }],
        ['an unknown kind', { kind: 'latest' }],
        ['missing', undefined],
      ];
      it.each(badExpectations)(
        'refuses an invalid expected version (%s)',
        async (_label, expected) => {
          await expectErrorOf(
            store.append([
              good(),
              { streamId: B, expected: expected as ExpectedVersion, events: [testEvent('E')] },
            ]),
            InvalidAppendError,
            ErrorCodes.invalidAppend,
          );
          await expectNothingWritten(B);
        },
      );

      const badEvents: [string, () => unknown][] = [
        ['without type', () => ({ ...testEvent('T'), type: undefined })],
        ['with an empty type', () => testEvent('')],
        ['without id', () => ({ ...testEvent('T'), id: undefined })],
        ['with an empty id', () => testEvent('T', {}, { id: '' })],
        ['without metadata', () => ({ ...testEvent('T'), metadata: undefined })],
        ['that is null', () => null],
      ];
      it.each(badEvents)('refuses an event %s', async (_label, make) => {
        await expectErrorOf(
          store.append([
            good(),
            {
              streamId: B,
              expected: ExpectedVersion.any,
              events: [testEvent('Fine'), make() as EventToAppend],
            },
          ]),
          InvalidAppendError,
          ErrorCodes.invalidAppend,
        );
        await expectNothingWritten(B);
      });

      const unserializable: [string, () => EventToAppend][] = [
        ['a BigInt in data', () => testEvent('Bad', { amount: 10n })],
        [
          'a cycle in data',
          () => {
            const data: Record<string, unknown> = { name: 'loop' };
            data.self = { parent: data };
            return testEvent('Bad', data);
          },
        ],
        [
          'a BigInt in custom metadata',
          () => {
            const event = testEvent('Bad');
            return { ...event, metadata: { ...event.metadata, custom: { big: 1n } } };
          },
        ],
      ];
      it.each(unserializable)('refuses %s with EventSerializationError', async (_label, make) => {
        const error = await expectErrorOf(
          store.append([
            good(),
            {
              streamId: B,
              expected: ExpectedVersion.noStream,
              events: [testEvent('Fine'), make()],
            },
            { streamId: C, expected: ExpectedVersion.noStream, events: [testEvent('Fine')] },
          ]),
          EventSerializationError,
          ErrorCodes.eventSerialization,
        );
        expect(error).toMatchObject({ streamId: B, eventType: 'Bad' });
        await expectNothingWritten(B, C);
      });

      // PostgreSQL's text and jsonb cannot hold these; every store refuses them alike.
      const withMetadata = (metadata: Partial<EventToAppend['metadata']>): EventToAppend => {
        const event = testEvent('Bad');
        return { ...event, metadata: { ...event.metadata, ...metadata } };
      };
      const unstorable: [string, () => EventToAppend, string, string][] = [
        [
          'a NUL character in a data string',
          () => testEvent('Bad', { owner: 'Ann\u0000' }),
          'data.owner',
          'a NUL character',
        ],
        [
          'a lone high surrogate in a nested data string',
          () => testEvent('Bad', { lines: [{ note: 'x\ud800' }] }),
          'data.lines.0.note',
          'an unpaired UTF-16 surrogate',
        ],
        [
          'a lone low surrogate as the whole data',
          () => testEvent('Bad', '\udc00'),
          'data',
          'an unpaired UTF-16 surrogate',
        ],
        [
          'a NUL character in a data key',
          () => testEvent('Bad', { nested: { 'a\u0000b': 1 } }),
          'the key data.nested["a\\u0000b"]',
          'a NUL character',
        ],
        [
          'a NUL character in a custom metadata value',
          () => withMetadata({ custom: { note: '\u0000' } }),
          'metadata.custom.note',
          'a NUL character',
        ],
        [
          'a lone surrogate in a custom metadata key',
          () => withMetadata({ custom: { '\ud83d': 'x' } }),
          'the key metadata.custom["\\ud83d"]',
          'an unpaired UTF-16 surrogate',
        ],
        [
          'a NUL character in the correlation id',
          () => withMetadata({ correlationId: 'c\u0000' }),
          'metadata.correlationId',
          'a NUL character',
        ],
        [
          'a lone surrogate in the user id',
          () => withMetadata({ userId: '\udfff' }),
          'metadata.userId',
          'an unpaired UTF-16 surrogate',
        ],
      ];
      it.each(unstorable)(
        'refuses %s with UnstorableTextError naming where it is',
        async (_label, make, path, reason) => {
          const error = await expectErrorOf(
            store.append([
              good(),
              {
                streamId: B,
                expected: ExpectedVersion.noStream,
                events: [testEvent('Fine', { emoji: '🚀 𝄞' }), make()],
              },
              { streamId: C, expected: ExpectedVersion.noStream, events: [testEvent('Fine')] },
            ]),
            UnstorableTextError,
            ErrorCodes.unstorableText,
          );
          expect(error).toMatchObject({ streamId: B, eventType: 'Bad', path, reason });
          await expectNothingWritten(B, C);
        },
      );

      const badEncodings: [string, () => EventToAppend][] = [
        ['an encoding name with capitals', () => testEvent('T', 'AAAA', { encoding: 'MsgPack' })],
        ['an encoding name with a space', () => testEvent('T', 'AAAA', { encoding: 'msg pack' })],
        ['an empty encoding name', () => testEvent('T', 'AAAA', { encoding: '' })],
        [
          'an encoding name of 33 characters',
          () => testEvent('T', '', { encoding: 'x'.repeat(33) }),
        ],
        [
          'an encoding that is not a string',
          () => ({ ...testEvent('T', 'AAAA'), encoding: 7 as never }),
        ],
        [
          'binary data that is not a string',
          () => testEvent('T', { a: 1 }, { encoding: 'msgpack' }),
        ],
        [
          'binary data with characters outside base64',
          () => testEvent('T', 'AA!A', { encoding: 'msgpack' }),
        ],
        ['binary data without padding', () => testEvent('T', 'wQ', { encoding: 'msgpack' })],
        [
          'binary data with a line break',
          () => testEvent('T', 'AAAA\nAAAA', { encoding: 'msgpack' }),
        ],
        [
          'non-canonical base64 (unused bits set)',
          () => testEvent('T', 'wR==', { encoding: 'msgpack' }),
        ],
      ];
      it.each(badEncodings)('refuses %s with InvalidAppendError', async (_label, make) => {
        await expectErrorOf(
          store.append([
            good(),
            { streamId: B, expected: ExpectedVersion.any, events: [testEvent('Fine'), make()] },
          ]),
          InvalidAppendError,
          ErrorCodes.invalidAppend,
        );
        await expectNothingWritten(B);
      });

      it('still works normally after refusing requests', async () => {
        await rejection(store.append([good(), good()]));
        await rejection(
          store.append([
            good(),
            { streamId: B, expected: ExpectedVersion.any, events: [testEvent('B', 1n)] },
          ]),
        );
        const result = await store.append([good()]);
        expect(result.events.map((e) => e.streamVersion)).toEqual([1, 2]);
      });
    });

    describe('round-tripping awkward text', () => {
      const text = {
        sql: `'; drop table events; --`,
        quotes: `"double" 'single' \`back\` ''''`,
        backslashes: 'C:\\temp\\new \\n \\u0000 \\\\ \\"',
        emoji: '🚀 👩‍👩‍👧‍👦 🏳️‍🌈 𝄞',
        rtl: 'مرحبا بالعالم שלום \u202Eevil\u202C',
        mixed: 'ünïcödé — “curly” ‘quotes’ 中文 日本語 한국어',
        json: '{"not": "parsed"}',
        empty: '',
      };

      it('stores data and metadata strings exactly', async () => {
        const event = testEvent(
          `Type 'quoted' "x" \\ ✓`,
          { ...text, list: Object.values(text) },
          {
            metadata: {
              correlationId: text.sql,
              causationId: text.quotes,
              userId: text.emoji,
              custom: { ...text, [text.sql]: text.rtl },
            },
          },
        );
        const result = await store.append([
          { streamId: A, expected: ExpectedVersion.noStream, events: [event] },
        ]);
        const read = await store.readStreams([A]);
        const all = (await readToEnd()).events;
        for (const events of [result.events, read.events, all]) {
          expect(events).toHaveLength(1);
          expect(events[0]!.type).toBe(event.type);
          expect(events[0]!.data).toEqual(event.data);
          expect(events[0]!.metadata).toEqual(event.metadata);
        }
      });

      it('stores stream ids with quotes, backslashes and unicode exactly', async () => {
        const ids = [
          streamId(`o'brien-"quoted"`),
          streamId('back\\slash\\'),
          streamId(`'; drop table events; --`),
          streamId('流水-🚀-مرحبا'),
          streamId('%_percent_underscore'),
        ];
        for (const id of ids) {
          await store.append([
            { streamId: id, expected: ExpectedVersion.noStream, events: [testEvent(id)] },
          ]);
        }
        for (const id of ids) {
          const read = await store.readStreams([id]);
          expect(read.versions.get(id)).toBe(1);
          expect(read.events.map((e) => [e.streamId, e.type])).toEqual([[id, id]]);
        }
        const all = (await readToEnd()).events;
        expect(all.map((e) => e.streamId)).toEqual(ids);
        const conflict = await rejection(
          store.append(
            ids.map((id) => ({ streamId: id, expected: ExpectedVersion.noStream, events: [] })),
          ),
        );
        expectConflicts(
          conflict,
          ids.map((id) => ({ streamId: id, expected: ExpectedVersion.noStream, actual: 1 })),
        );
      });
    });

    describe('readAll', () => {
      it('returns an empty page at the end of an empty log, whose next is a valid start', async () => {
        const page = await store.readAll({ limit: 10 });
        expect(page.events).toEqual([]);
        expect(page.isEnd).toBe(true);
        const appended = await appendOne(A);
        const next = await store.readAll({ after: page.next, limit: 10 });
        expect(next.events).toEqual(appended.events);
        expect(next.isEnd).toBe(true);
      });

      it('pages through the log in global order, without overlap or gap', async () => {
        const appended: RecordedEvent[] = [];
        for (const id of [A, B, A, C]) appended.push(...(await appendOne(id)).events);
        appended.push(
          ...(
            await store.append([
              {
                streamId: B,
                expected: ExpectedVersion.any,
                events: [testEvent('X'), testEvent('Y')],
              },
              { streamId: D, expected: ExpectedVersion.any, events: [testEvent('Z')] },
            ])
          ).events,
        );
        expect(appended).toHaveLength(7);

        const first = await store.readAll({ limit: 3 });
        expect(first.events).toEqual(appended.slice(0, 3));
        expect(first.isEnd).toBe(false);
        const second = await store.readAll({ after: first.next, limit: 3 });
        expect(second.events).toEqual(appended.slice(3, 6));
        expect(second.isEnd).toBe(false);
        expect(store.comparePositions(second.next, first.next)).toBeGreaterThan(0);
        const rest = await readToEnd(undefined, 3, second.next);
        expect(rest.events).toEqual(appended.slice(6));

        for (const limit of [1, 2, 7, 10_000]) {
          const { events } = await readToEnd(undefined, limit);
          expect(events).toEqual(appended);
        }
      });

      it('returns nothing, and isEnd, after the last position', async () => {
        const last = await appendOne(A);
        await expect(store.readAll({ after: last.position, limit: 5 })).resolves.toMatchObject({
          events: [],
          isEnd: true,
        });
        const { next } = await readToEnd(undefined, 1);
        const page = await store.readAll({ after: next, limit: 5 });
        expect(page.events).toEqual([]);
        expect(page.isEnd).toBe(true);
        expect(store.comparePositions(page.next, next!)).toBeGreaterThanOrEqual(0);
      });

      describe('filters', () => {
        const ORDER_1 = streamId('order-1');
        const ORDER_2 = streamId('order-2');
        const ORDERLINE = streamId('orderline-1');
        const CUSTOMER = streamId('customer-1');
        // Contains "order-" but does not start with it.
        const CUSTOMER_ORDER = streamId('customer-order-3');

        async function seed(): Promise<RecordedEvent[]> {
          const plan: [StreamId, string][] = [
            [ORDER_1, 'Placed'],
            [CUSTOMER, 'Registered'],
            [ORDERLINE, 'Placed'],
            [ORDER_2, 'Placed'],
            [ORDER_1, 'Shipped'],
            [CUSTOMER, 'Renamed'],
            [ORDER_2, 'Cancelled'],
            [ORDERLINE, 'Shipped'],
            [CUSTOMER_ORDER, 'Placed'],
          ];
          const events: RecordedEvent[] = [];
          for (const [id, type] of plan) events.push(...(await appendOne(id, type)).events);
          return events;
        }

        const cases: [string, ReadAllFilter, (e: RecordedEvent) => boolean][] = [
          [
            'one stream prefix',
            { streamPrefixes: ['order-'] },
            (e) => e.streamId.startsWith('order-'),
          ],
          [
            'several stream prefixes',
            { streamPrefixes: ['order-', 'customer-'] },
            (e) => e.streamId !== ORDERLINE,
          ],
          [
            'event types',
            { eventTypes: ['Placed', 'Renamed'] },
            (e) => ['Placed', 'Renamed'].includes(e.type),
          ],
          [
            'stream prefixes and event types together',
            { streamPrefixes: ['order-', 'customer-'], eventTypes: ['Placed', 'Renamed'] },
            (e) => e.streamId !== ORDERLINE && ['Placed', 'Renamed'].includes(e.type),
          ],
          ['empty lists (everything)', { streamPrefixes: [], eventTypes: [] }, () => true],
          ['a prefix nothing has', { streamPrefixes: ['invoice-'] }, () => false],
        ];
        it.each(cases)('filters by %s, in order and across pages', async (_label, filter, keep) => {
          const events = await seed();
          const expected = events.filter(keep);
          for (const limit of [1, 2, 100]) {
            expect((await readToEnd(filter, limit)).events).toEqual(expected);
          }
        });

        it('treats prefixes literally (no pattern characters)', async () => {
          const ids = [
            'a_1',
            'ab1',
            'a%1',
            'a%x',
            'abc%',
            'back\\slash',
            'backXslash',
            'back\\\\double',
            'za_1',
          ].map(streamId);
          for (const id of ids) await appendOne(id);
          const streamsFor = async (prefix: string): Promise<string[]> =>
            (await readToEnd({ streamPrefixes: [prefix] })).events.map((e) => e.streamId);
          expect(await streamsFor('a_')).toEqual(['a_1']);
          expect(await streamsFor('a%')).toEqual(['a%1', 'a%x']);
          expect(await streamsFor('back\\')).toEqual(['back\\slash', 'back\\\\double']);
          expect(await streamsFor('back\\\\')).toEqual(['back\\\\double']);
          expect(await streamsFor('A')).toEqual([]);
        });

        it('advances next past filtered-out events: a page may be empty but never stuck', async () => {
          let last: AppendResult | undefined;
          for (let i = 0; i < 30; i++) last = await appendOne(i % 2 === 0 ? A : B, 'Noise');
          const filter = { eventTypes: ['Signal'] };

          const quiet = await readToEnd(filter, 5);
          expect(quiet.events).toEqual([]);
          expect(store.comparePositions(quiet.next!, last!.position)).toBeGreaterThanOrEqual(0);

          const signal = await appendOne(C, 'Signal');
          for (let i = 0; i < 10; i++) await appendOne(A, 'Noise');
          const fromThere = await readToEnd(filter, 5, quiet.next);
          expect(fromThere.events).toEqual(signal.events);

          // From the start with a small limit: the signal once, then nothing more.
          const fromStart = await readToEnd(filter, 1);
          expect(fromStart.events).toEqual(signal.events);
          const again = await readToEnd(filter, 1, fromStart.next);
          expect(again.events).toEqual([]);
        });
      });

      it.each([
        ['garbage', 'not-a-position'],
        ['empty', ''],
        ['emoji', '🚀'],
        ['not a string', 42],
      ])('refuses a position token it did not make (%s)', async (_label, token) => {
        await appendOne(A);
        await expectErrorOf(
          store.readAll({ after: token as unknown as Position, limit: 10 }),
          InvalidPositionError,
          ErrorCodes.invalidPosition,
        );
      });

      it.each([0, -1, 10_001, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
        'refuses limit %p',
        async (limit) => {
          await appendOne(A);
          await expectErrorOf(
            store.readAll({ limit }),
            InvalidOptionsError,
            ErrorCodes.invalidOptions,
          );
        },
      );

      it('accepts limits from 1 to 10,000', async () => {
        await appendOne(A);
        await appendOne(A);
        expect((await store.readAll({ limit: 1 })).events).toHaveLength(1);
        expect((await store.readAll({ limit: 10_000 })).events).toHaveLength(2);
      });
    });

    describe('countAfter (optional)', () => {
      it('counts the events a reader at a position has yet to read, with the readAll filters', async () => {
        if (store.countAfter === undefined) return; // optional in the port: nothing to check
        await store.append([
          {
            streamId: streamId('acc-1'),
            expected: ExpectedVersion.any,
            events: [testEvent('Opened'), testEvent('Paid')],
          },
          {
            streamId: streamId('ord-1'),
            expected: ExpectedVersion.any,
            events: [testEvent('Paid')],
          },
        ]);
        expect(await store.countAfter(undefined)).toBe(3);
        expect(await store.countAfter(undefined, { streamPrefixes: ['acc-'] })).toBe(2);
        expect(await store.countAfter(undefined, { eventTypes: ['Paid'] })).toBe(2);
        const first = await store.readAll({ limit: 1 });
        expect(await store.countAfter(first.next)).toBe(2);
        const end = await store.readAll({ after: first.next, limit: 10 });
        expect(await store.countAfter(end.next)).toBe(0);
      });
    });

    describe('comparePositions', () => {
      it('orders positions from reads, appends and pages consistently', async () => {
        const start = (await store.readStreams([A])).position;
        const p1 = (await appendOne(A)).position;
        const p2 = (await appendOne(B)).position;
        const p3 = (await appendOne(A)).position;
        const appendPositions = [p1, p2, p3];

        expect(store.comparePositions(p1, p1)).toBe(0);
        expect(store.comparePositions(start, p1)).toBeLessThan(0);
        for (let i = 0; i < appendPositions.length; i++) {
          for (let j = 0; j < appendPositions.length; j++) {
            const sign = Math.sign(
              store.comparePositions(appendPositions[i]!, appendPositions[j]!),
            );
            expect(sign).toBe(Math.sign(i - j));
          }
        }

        // After reading the k-th event, `next` lies at or after append k and before append k + 1.
        let after: Position | undefined;
        for (let k = 0; k < 3; k++) {
          const page = await store.readAll({ after, limit: 1 });
          expect(page.events).toHaveLength(1);
          expect(store.comparePositions(page.next, appendPositions[k]!)).toBeGreaterThanOrEqual(0);
          if (k < 2)
            expect(store.comparePositions(page.next, appendPositions[k + 1]!)).toBeLessThan(0);
          expect(store.comparePositions(appendPositions[k]!, page.next)).toBeLessThanOrEqual(0);
          after = page.next;
        }

        // An append position is a valid `after`: reading resumes with the next event.
        const resumed = await store.readAll({ after: p1, limit: 10 });
        expect(resumed.events.map((e) => e.streamId)).toEqual([B, A]);
        expect(resumed.isEnd).toBe(true);
      });
    });

    describe('concurrency', () => {
      it('lets exactly one of 20 concurrent appends expecting the same version win', async () => {
        await appendOne(A);
        for (const expected of [ExpectedVersion.noStream, ExpectedVersion.exact(1)]) {
          const target = expected.kind === 'exact' && expected.version === 0 ? B : A;
          const versionBefore = (await store.readStreams([target])).versions.get(target)!;
          const attempts = Array.from({ length: 20 }, (_, i) => testEvent(`Attempt${i}`));
          const settled = await Promise.allSettled(
            attempts.map((event) =>
              store.append([{ streamId: target, expected, events: [event] }]),
            ),
          );
          const won = settled.filter((s) => s.status === 'fulfilled');
          const lost = settled.filter((s) => s.status === 'rejected');
          expect(won).toHaveLength(1);
          expect(lost).toHaveLength(19);
          for (const failure of lost) {
            expectConflicts(failure.reason, [
              { streamId: target, expected, actual: versionBefore + 1 },
            ]);
          }
          const winner = won[0]!.value.events[0]!;
          const read = await store.readStreams([target]);
          expect(read.versions.get(target)).toBe(versionBefore + 1);
          expect(read.events.filter((e) => e.streamVersion > versionBefore)).toEqual([winner]);
        }
        expect((await readToEnd()).events).toHaveLength(3);
      });

      it('serializes 20 concurrent appends expecting any into contiguous versions', async () => {
        const settled = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => appendOne(A, `Any${i}`)),
        );
        expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
        const read = await store.readStreams([A]);
        expect(read.events.map((e) => e.streamVersion)).toEqual(
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        expect(new Set(read.events.map((e) => e.globalPosition)).size).toBe(20);
      });

      it('keeps streams contiguous and the log consistent under random concurrent multi-stream appends', async () => {
        const names = ['prop-a', 'prop-b', 'prop-c', 'prop-d'].map(streamId);
        const writeArb = fc.record({
          stream: fc.constantFrom(...names),
          // Relative to the version read just before the batch: mostly right, sometimes stale.
          offset: fc.constantFrom(0, 0, 0, -1, 1),
          count: fc.nat({ max: 3 }),
        });
        const appendArb = fc.uniqueArray(writeArb, {
          selector: (w) => w.stream,
          minLength: 1,
          maxLength: 3,
        });
        const batchesArb = fc.array(fc.array(appendArb, { minLength: 1, maxLength: 6 }), {
          minLength: 1,
          maxLength: 4,
        });

        await fc.assert(
          fc.asyncProperty(batchesArb, async (batches) => {
            const propertyStore = await makeStore();
            try {
              const successes: { writes: StreamWrite[]; result: AppendResult }[] = [];
              for (const batch of batches) {
                const current = (await propertyStore.readStreams(names)).versions;
                const requests = batch.map((append) =>
                  append.map((w): StreamWrite => ({
                    streamId: w.stream,
                    expected: ExpectedVersion.exact(Math.max(0, current.get(w.stream)! + w.offset)),
                    events: Array.from({ length: w.count }, () => testEvent(`E-${w.stream}`)),
                  })),
                );
                const settled = await Promise.allSettled(
                  requests.map((writes) => propertyStore.append(writes)),
                );
                settled.forEach((outcome, i) => {
                  if (outcome.status === 'fulfilled') {
                    successes.push({ writes: requests[i]!, result: outcome.value });
                  } else {
                    expect(outcome.reason).toBeInstanceOf(ConcurrencyConflictError);
                  }
                });
              }

              // Every successful append wrote exactly its events, right after the version it expected.
              for (const { writes, result } of successes) {
                expect(result.events.map((e) => e.id)).toEqual(
                  writes.flatMap((w) => w.events.map((e) => e.id)),
                );
                for (const write of writes) {
                  const base = write.expected.kind === 'exact' ? write.expected.version : NaN;
                  expect(
                    result.events
                      .filter((e) => e.streamId === write.streamId)
                      .map((e) => e.streamVersion),
                  ).toEqual(write.events.map((_, i) => base + i + 1));
                  expect(result.versions.get(write.streamId)).toBe(base + write.events.length);
                }
              }

              const read = await propertyStore.readStreams(names);
              for (const name of names) {
                const versions = read.events
                  .filter((e) => e.streamId === name)
                  .map((e) => e.streamVersion);
                expect(versions).toEqual(versions.map((_, i) => i + 1));
                expect(read.versions.get(name)).toBe(versions.length);
              }

              const { events: log } = await readLog(propertyStore, undefined, 7);
              const positions = log.map((e) => e.globalPosition);
              for (let i = 1; i < positions.length; i++)
                expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
              const written = successes.flatMap((s) => s.result.events);
              expect(log).toHaveLength(written.length);
              expect(new Set(log.map((e) => e.id))).toEqual(new Set(written.map((e) => e.id)));
              expect([...read.events].sort((x, y) => x.globalPosition - y.globalPosition)).toEqual(
                log,
              );
            } finally {
              await dispose(propertyStore);
            }
          }),
          { numRuns: 25 },
        );
      });
    });

    describe('lifecycle', () => {
      it('answers ping while open', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('rejects every call with StoreClosedError after close, and closing twice is harmless', async () => {
        await appendOne(A);
        const position = (await store.readStreams([A])).position;
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
        await expectErrorOf(store.readStreams([A]), StoreClosedError, ErrorCodes.storeClosed);
        await expectErrorOf(
          store.append([
            { streamId: A, expected: ExpectedVersion.any, events: [testEvent('Late')] },
          ]),
          StoreClosedError,
          ErrorCodes.storeClosed,
        );
        await expectErrorOf(store.readAll({ limit: 10 }), StoreClosedError, ErrorCodes.storeClosed);
        await expectErrorOf(
          store.readAll({ after: position, limit: 10 }),
          StoreClosedError,
          ErrorCodes.storeClosed,
        );
        await expectErrorOf(store.ping(), StoreClosedError, ErrorCodes.storeClosed);
      });
    });
  });
}

/** Follows `next` to the end, checking that every page respects the limit and makes progress. */
async function readLog(
  store: EventStore,
  filter: ReadAllFilter | undefined,
  limit: number,
  after?: Position,
): Promise<{ events: RecordedEvent[]; next: Position | undefined }> {
  const events: RecordedEvent[] = [];
  let position = after;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await store.readAll({ after: position, limit, filter });
    expect(page.events.length).toBeLessThanOrEqual(limit);
    if (position !== undefined) {
      expect(store.comparePositions(page.next, position)).toBeGreaterThanOrEqual(0);
      if (!page.isEnd) expect(store.comparePositions(page.next, position)).toBeGreaterThan(0);
    }
    events.push(...page.events);
    position = page.next;
    if (page.isEnd) return { events, next: position };
  }
  throw new Error('readAll did not reach isEnd within 1000 pages');
}

/** The error a promise rejects with; fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to be rejected, but it succeeded');
}

async function expectErrorOf<T>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
  code: ErrorCode,
): Promise<T> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(type);
  expect(error).toMatchObject({ code });
  return error as T;
}

/** Asserts a ConcurrencyConflictError listing exactly `expected` (in any order). */
function expectConflicts(error: unknown, expected: StreamConflict[]): void {
  expect(error).toBeInstanceOf(ConcurrencyConflictError);
  expect(error).toMatchObject({ code: ErrorCodes.concurrencyConflict });
  const byStream = (x: StreamConflict, y: StreamConflict) => (x.streamId < y.streamId ? -1 : 1);
  const actual = (error as ConcurrencyConflictError).conflicts.map((c) => ({
    streamId: c.streamId,
    expected: c.expected,
    actual: c.actual,
  }));
  expect(actual.sort(byStream)).toEqual([...expected].sort(byStream));
}
