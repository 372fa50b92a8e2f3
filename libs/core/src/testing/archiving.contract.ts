import {
  AppendConditionFailedError,
  ArchiveRefusedError,
  ErrorCodes,
  InvalidAppendError,
  InvalidStreamIdError,
  StreamArchivedError,
} from '../errors';
import type { RecordedEvent } from '../events/event';
import type { EventStore, Position, ReadAllFilter } from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import type { StreamArchiving } from '../store/stream-archive';
import { streamId } from '../store/stream-id';
import {
  type EventStoreContractOptions,
  openStorePerTest,
  testEvent,
} from './event-store.contract';

/**
 * The archiving part of the store contract (see `StreamArchiving`), as a jest suite, for adapters
 * that archive streams: `archivingContract('postgres', () => makePostgresStore(), { teardown })`.
 * `makeStore` must return a new, open store over an empty log, isolated from every other.
 */
export function archivingContract<S extends EventStore & StreamArchiving>(
  adapterName: string,
  makeStore: () => Promise<S>,
  options: EventStoreContractOptions<S> = {},
): void {
  describe(`Archiving contract: ${adapterName}`, () => {
    let store: S;
    openStorePerTest(makeStore, options, (opened) => (store = opened));

    const A = streamId('archive-a');
    const B = streamId('archive-b');

    const appendTo = (id: typeof A, type = 'Happened', tags?: readonly string[]) =>
      store.append([
        {
          streamId: id,
          expected: ExpectedVersion.any,
          events: [testEvent(type, {}, tags === undefined ? {} : { tags })],
        },
      ]);

    async function wholeLog(filter?: ReadAllFilter): Promise<RecordedEvent[]> {
      const events: RecordedEvent[] = [];
      let after: Position | undefined;
      for (;;) {
        const page = await store.readAll({ after, limit: 2, filter });
        events.push(...page.events);
        after = page.next;
        if (page.isEnd) return events;
      }
    }

    it('refuses every later write with events to the stream, writing nothing', async () => {
      await appendTo(A);
      await appendTo(A);
      const result = await store.archiveStream(A);
      expect(result).toEqual({ streamId: A, archivedEvents: 2, alreadyArchived: false });

      const refusal = await appendTo(A).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(StreamArchivedError);
      expect(refusal).toMatchObject({ code: ErrorCodes.streamArchived, streamIds: [A] });
      // With an exact expected version too, and atomically with another stream's write.
      const both = await store
        .append([
          { streamId: B, expected: ExpectedVersion.noStream, events: [testEvent('Other')] },
          { streamId: A, expected: ExpectedVersion.exact(2), events: [testEvent('Late')] },
        ])
        .catch((error: unknown) => error);
      expect(both).toBeInstanceOf(StreamArchivedError);
      const read = await store.readStreams([A, B]);
      expect(read.versions.get(A)).toBe(2);
      expect(read.versions.get(B)).toBe(0);
    });

    it('refuses a write to an archived stream in an append with a condition too', async () => {
      await appendTo(A);
      await store.archiveStream(A);
      const refusal = await store
        .append([{ streamId: A, expected: ExpectedVersion.any, events: [testEvent('Late')] }], {
          condition: { failIfEventsMatch: { items: [{ types: ['NeverWritten'] }] } },
        })
        .catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(StreamArchivedError);
      expect((await store.readStreams([A])).versions.get(A)).toBe(1);
    });

    it('lets a guard (a write without events) on an archived stream pass', async () => {
      await appendTo(A);
      await store.archiveStream(A);
      const result = await store.append([
        { streamId: A, expected: ExpectedVersion.exact(1), events: [] },
        { streamId: B, expected: ExpectedVersion.noStream, events: [testEvent('Opened')] },
      ]);
      expect(result.versions.get(B)).toBe(1);
    });

    it('keeps archived events in the log: readStreams and readAll see them', async () => {
      await appendTo(A, 'First');
      await appendTo(B, 'Second');
      await appendTo(A, 'Third');
      const before = await wholeLog();
      await store.archiveStream(A);

      const read = await store.readStreams([A]);
      expect(read.events.map((e) => e.type)).toEqual(['First', 'Third']);
      expect(read.versions.get(A)).toBe(2);
      const after = await wholeLog();
      expect(after.map((e) => e.id)).toEqual(before.map((e) => e.id));
      expect(after.map((e) => e.globalPosition)).toEqual(before.map((e) => e.globalPosition));
    });

    it('leaves archived events out of readAll and countAfter for a reader that opts out', async () => {
      await appendTo(A, 'First');
      await appendTo(B, 'Second');
      await appendTo(A, 'Third');
      await store.archiveStream(A);
      await appendTo(B, 'Fourth');

      const hot = await wholeLog({ includeArchived: false });
      expect(hot.map((e) => e.type)).toEqual(['Second', 'Fourth']);
      const filtered = await wholeLog({ includeArchived: false, streamPrefixes: ['archive-'] });
      expect(filtered.map((e) => e.type)).toEqual(['Second', 'Fourth']);
      if (store.countAfter !== undefined) {
        expect(await store.countAfter(undefined, { includeArchived: false })).toBe(2);
        expect(await store.countAfter(undefined)).toBe(4);
      }
    });

    it('keeps archived events in DCB reads and append conditions', async () => {
      await appendTo(A, 'Opened', ['account:1']);
      await store.archiveStream(A);
      const query = { items: [{ tags: ['account:1'] }] };
      const { events } = await store.read(query);
      expect(events.map((e) => e.type)).toEqual(['Opened']);
      const refusal = await store
        .append([], {
          events: [testEvent('Again', {}, { tags: ['account:1'] })],
          condition: { failIfEventsMatch: query },
        })
        .catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(AppendConditionFailedError);
    });

    it('refuses an archived event id in another stream', async () => {
      const event = testEvent('Once');
      await store.append([{ streamId: A, expected: ExpectedVersion.any, events: [event] }]);
      await store.archiveStream(A);
      const refusal = await store
        .append([{ streamId: B, expected: ExpectedVersion.any, events: [{ ...event }] }])
        .catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(InvalidAppendError);
      expect((await store.readStreams([B])).versions.get(B)).toBe(0);
    });

    it('archives idempotently, and refuses a stream without events', async () => {
      await appendTo(A);
      await store.archiveStream(A);
      expect(await store.archiveStream(A)).toEqual({
        streamId: A,
        archivedEvents: 0,
        alreadyArchived: true,
      });
      const refusal = await store.archiveStream(B).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(ArchiveRefusedError);
      expect(refusal).toMatchObject({
        code: ErrorCodes.archiveRefused,
        reason: 'stream-not-found',
      });
      // An event in no stream lives in no stream one could archive: its id is refused as input.
      const loose = testEvent('Loose');
      await store.append([], { events: [loose] });
      const reserved = `$event-${loose.id}` as typeof A;
      await expect(store.archiveStream(reserved)).rejects.toBeInstanceOf(InvalidStreamIdError);
    });
  });
}
