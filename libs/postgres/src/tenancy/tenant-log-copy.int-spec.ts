import {
  ExpectedVersion,
  type Position,
  type RecordedEvent,
  type StreamId,
  StreamArchivedError,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { PostgresEventStore } from '../postgres.event-store';
import { createPostgresEventStore } from '../postgres.factory';
import {
  createPostgresCheckpointStore,
  type PostgresCheckpointStore,
} from '../projection/postgres.checkpoint-store';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '../testing/test-database';
import { copyTenantLog } from './tenant-log-copy';

/** Everything a copy keeps: all but the global position and the recorded-at time. */
function essence(event: RecordedEvent) {
  const { globalPosition: _p, recordedAt: _r, ...kept } = event;
  return kept;
}

async function readLog(store: PostgresEventStore, after?: Position): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after, limit: 1_000 });
    events.push(...page.events);
    after = page.next;
    if (page.isEnd) return events;
  }
}

describeWithServer('copying a tenant log (PostgreSQL)', () => {
  let database: TestDatabase;
  const stores: { store: PostgresEventStore; checkpoints: PostgresCheckpointStore }[] = [];

  const open = async (schema: string) => {
    const store = await createPostgresEventStore({ connectionString: database.url, schema });
    const opened = { store, checkpoints: await createPostgresCheckpointStore(store) };
    stores.push(opened);
    return opened;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    for (const { store } of stores) await store.close();
    await database?.drop();
  });

  it('keeps every event, its order, streams, versions and tags, and translates checkpoints', async () => {
    const source = await open('copy_source');
    const target = await open('copy_target');
    const a = streamId('account-a');
    const b = streamId('account-b');
    const c = streamId('counter-c');
    // 1. Two streams in one append.
    const first = await source.store.append([
      {
        streamId: a,
        expected: ExpectedVersion.noStream,
        events: [testEvent('Opened'), testEvent('Deposited', { amount: 5 })],
      },
      { streamId: b, expected: ExpectedVersion.noStream, events: [testEvent('Opened')] },
    ]);
    // 2. A stream-less (DCB) event with tags.
    const second = await source.store.append([], {
      events: [testEvent('Registered', { n: 1 }, { tags: ['course:c1', 'student:s1'] })],
    });
    // 3. A stream write and a stream-less event in one append.
    const third = await source.store.append(
      [{ streamId: a, expected: ExpectedVersion.exact(2), events: [testEvent('Withdrawn')] }],
      { events: [testEvent('Noted', {}, { tags: ['note:1'] })] },
    );
    // 4. Enough events on one stream for several pages and appends.
    let version = 0;
    for (let n = 0; n < 3; n++) {
      await source.store.append([
        {
          streamId: c,
          expected: ExpectedVersion.exact(version),
          events: Array.from({ length: 400 }, (_, i) => testEvent('Ticked', { i: version + i })),
        },
      ]);
      version += 400;
    }
    // Checkpoints after 1, after 2, at the head, and none.
    const head = (await source.store.readStreams([c])).position;
    for (const [name, at] of [
      ['after-first', first.position],
      ['after-second', second.position],
      ['at-head', head],
    ] as const) {
      await source.checkpoints.commit(name, undefined, at, async () => {});
    }
    let advancedTo: number | undefined;

    const copy = await copyTenantLog(
      source,
      target,
      ['after-first', 'after-second', 'at-head', 'never-ran'],
      5_000,
      async (sourceHead) => {
        advancedTo = sourceHead;
      },
    );

    const sourceLog = await readLog(source.store);
    const targetLog = await readLog(target.store);
    expect(sourceLog).toHaveLength(1_206);
    expect(copy.events).toBe(1_206);
    expect(advancedTo).toBe(sourceLog[sourceLog.length - 1]!.globalPosition);
    expect(targetLog.map(essence)).toEqual(sourceLog.map(essence));
    expect(targetLog.find((e) => e.type === 'Registered')?.tags).toEqual([
      'course:c1',
      'student:s1',
    ]);
    // Each checkpoint is followed, on the target, by the event that followed it on the source.
    const firstAfter = async (at: Position | null) =>
      (await target.store.readAll({ after: at ?? undefined, limit: 1 })).events[0]?.id;
    expect(await firstAfter(copy.checkpoints['after-first']!)).toBe(second.events[0]!.id);
    expect(await firstAfter(copy.checkpoints['after-second']!)).toBe(third.events[0]!.id);
    expect(await firstAfter(copy.checkpoints['at-head']!)).toBeUndefined();
    expect(copy.checkpoints['at-head']).toBe(copy.targetHead);
    expect(copy.checkpoints['never-ran']).toBeNull();
    // ...and saved in the target's checkpoint store.
    expect(await target.checkpoints.load('after-first')).toBe(copy.checkpoints['after-first']);
    expect(await target.checkpoints.load('never-ran')).toBeUndefined();
    const versions = (await target.store.readStreams([a, b, c] as StreamId[])).versions;
    expect([...versions.values()]).toEqual([3, 1, 1_200]);
  });

  it('archives again on the target the streams archived on the source', async () => {
    const source = await open('archived_source');
    const target = await open('archived_target');
    const closed = streamId('account-closed');
    const open_ = streamId('account-open');
    const appended = await source.store.append([
      {
        streamId: closed,
        expected: ExpectedVersion.noStream,
        events: [testEvent('Opened'), testEvent('Closed')],
      },
      { streamId: open_, expected: ExpectedVersion.noStream, events: [testEvent('Opened')] },
    ]);
    await source.checkpoints.commit('balances', undefined, appended.position, async () => {});
    await source.store.archiveStream(closed);

    const copy = await copyTenantLog(source, target, ['balances'], 5_000, async () => {});

    expect(copy.archivedStreams).toBe(1);
    const refused = target.store.append([
      { streamId: closed, expected: ExpectedVersion.exact(2), events: [testEvent('Reopened')] },
    ]);
    await expect(refused).rejects.toBeInstanceOf(StreamArchivedError);
    // Archived events stay readable, and the other stream stays open to writes.
    const read = await target.store.readStreams([closed]);
    expect(read.events.map((e) => e.type)).toEqual(['Opened', 'Closed']);
    await target.store.append([
      { streamId: open_, expected: ExpectedVersion.exact(1), events: [testEvent('Deposited')] },
    ]);
  });
});
