import { ExpectedVersion, InvalidOptionsError, LogHeldBackError, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { type SqlExecutor, type SqlQueryable } from './executor/sql-executor';
import { PostgresEventStore } from './postgres.event-store';
import { createPostgresEventStore } from './postgres.factory';
import { batchParams } from './sql/append-batch';
import { encodeAppend } from './sql/append-request';
import { queryProbes } from './sql/query-probes';

/** Answers every DCB read with `readRows` and the blocking-transaction query with `blocker`. */
class FakeDatabase implements SqlExecutor {
  reads = 0;
  readRows: Record<string, unknown>[] = [];
  blocker: Record<string, unknown> = { privileged: true, pid: null };

  async query<R>(text: string): Promise<R[]> {
    if (text.includes('read_events_v6')) {
      this.reads++;
      return this.readRows as R[];
    }
    return [this.blocker] as R[];
  }
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return work(this);
  }
  stats() {
    return { total: 1, idle: 1, waiting: 0 };
  }
  async close(): Promise<void> {}
}

const event = (p: number) => ({
  p,
  i: `00000000-0000-7000-8000-${String(p).padStart(12, '0')}`,
  s: 'stream',
  v: p,
  t: 'E',
  sv: 1,
  d: {},
  en: null,
  tg: ['x'],
  m: { correlationId: 'c', causationId: 'c', userId: null, custom: {} },
  o: '2026-01-01T00:00:00.000Z',
  r: '2026-01-01T00:00:00.000Z',
});

function setup(heldBackWaitMs?: number) {
  const db = new FakeDatabase();
  let now = 0;
  const sleeps: number[] = [];
  const store = new PostgresEventStore(db, {
    heldBackWaitMs,
    clock: { now: () => new Date(now) },
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  });
  return { db, store, sleeps };
}

describe('DCB read of the PostgreSQL store (fake database)', () => {
  const query = { items: [{ tags: ['x'] }] };

  it('waits in growing sleeps while matching events are held back, then names the blocking transaction', async () => {
    const { db, store, sleeps } = setup(500);
    db.readRows = [{ held: true, head: '10:1', ...event(1) }];
    db.blocker = {
      privileged: true,
      pid: 4242,
      datname: 'other',
      application_name: 'psql',
      state: 'idle in transaction',
      age_seconds: '12.5',
      query_start: '2026-01-01T00:00:00.000Z',
    };
    const error = await store.read(query).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LogHeldBackError);
    expect(error).toMatchObject({
      waitedMs: 500,
      blocking: {
        pid: 4242,
        database: 'other',
        applicationName: 'psql',
        state: 'idle in transaction',
        ageSeconds: 12.5,
        queryStart: '2026-01-01T00:00:00.000Z',
      },
    });
    expect(sleeps).toEqual([2, 4, 8, 16, 32, 64, 100, 100, 100, 74]);
    expect(db.reads).toBe(sleeps.length + 1);
  });

  it('returns as soon as the prefix passes the held-back events', async () => {
    const { db, store, sleeps } = setup();
    db.readRows = [{ held: true, head: '10:1', ...event(1) }];
    let reads = 0;
    const original = db.query.bind(db);
    db.query = async <R>(text: string) => {
      if (++reads === 3) db.readRows = [{ held: false, head: '12:2', ...event(1) }, event(2)];
      return original<R>(text);
    };
    const read = await store.read(query);
    expect(read.events.map((e) => [e.globalPosition, e.tags])).toEqual([
      [1, ['x']],
      [2, ['x']],
    ]);
    expect(read.position).toBe('12:2');
    expect(sleeps).toEqual([2, 4]);
  });

  it('does not wait for events that would sort after a full forward page', async () => {
    const { db, store, sleeps } = setup();
    db.readRows = [{ held: true, head: '10:1', ...event(1) }];
    expect((await store.read(query, { limit: 1 })).events).toHaveLength(1);
    await expect(store.read(query, { limit: 1, backwards: true })).rejects.toBeInstanceOf(
      LogHeldBackError,
    );
    expect(sleeps.length).toBeGreaterThan(0);
  });

  it('fails at once with heldBackWaitMs 0, and without a blocking transaction it cannot see', async () => {
    const { db, store, sleeps } = setup(0);
    db.readRows = [{ held: true, head: null, ...event(1) }];
    db.blocker = { privileged: false, pid: null };
    const error = await store.read(query).catch((e: unknown) => e);
    expect(error).toMatchObject({ waitedMs: 0, blocking: undefined });
    expect((error as Error).message).toContain('grant pg_monitor');
    expect(sleeps).toEqual([]);
  });

  it('reads an empty log with the start position', async () => {
    const { db, store } = setup();
    db.readRows = [{ held: false, head: null, p: null, i: null }];
    expect(await store.read(query)).toEqual({ events: [], position: '0:0' });
  });

  it.each([-1, 1.5, Number.NaN, 600_001, '5000'])('refuses heldBackWaitMs %p', async (value) => {
    expect(
      () => new PostgresEventStore(new FakeDatabase(), { heldBackWaitMs: value as number }),
    ).toThrow(InvalidOptionsError);
    await expect(
      createPostgresEventStore({
        connectionString: 'postgres://nowhere.invalid/db',
        heldBackWaitMs: value as number,
      }),
    ).rejects.toThrow(/heldBackWaitMs/);
  });
});

describe('query probes', () => {
  it('takes a tag item by its first tag, a type item per type, and an item of neither as all', () => {
    expect(
      queryProbes({
        items: [
          { tags: ['course:c1', 'student:s1'], types: ['Subscribed'] },
          { types: ['Opened', 'Closed', 'Opened'] },
          { tags: ['course:c1', 'student:s1'], types: ['Subscribed'] },
        ],
      }),
    ).toEqual([
      { k: 'tag', key: 'course:c1', tags: ['course:c1', 'student:s1'], types: ['Subscribed'] },
      { k: 'type', key: 'Opened', tags: null, types: null },
      { k: 'type', key: 'Closed', tags: null, types: null },
    ]);
    expect(queryProbes({ items: [{ types: [], tags: [] }, { tags: ['x'] }] })).toEqual([
      { k: 'all', key: null, tags: null, types: null },
    ]);
    expect(queryProbes({ items: [] })).toEqual([{ k: 'all', key: null, tags: null, types: null }]);
  });
});

describe('tags in append parameters', () => {
  const write = (id: string, tags?: string[]) => ({
    streamId: streamId(id),
    expected: ExpectedVersion.any,
    events: [testEvent('E', {}, tags === undefined ? {} : { tags }), testEvent('F')],
  });

  it('flattens tags with a count per event, NULL when no event has one', () => {
    const untagged = encodeAppend([write('a')]);
    expect(untagged.params.slice(14)).toEqual([null, null]);
    const tagged = encodeAppend([write('a', ['t1', 't2'])], [testEvent('G', {}, { tags: ['t3'] })]);
    expect(tagged.params.slice(14)).toEqual([
      ['t1', 't2', 't3'],
      [2, 0, 1],
    ]);
    expect(tagged.params[4]).toEqual([1, 1, 0]); // the event in no stream has write 0
  });

  it('merges the tags of a batch in event order; appends without tags count 0 per event', () => {
    const merged = batchParams([
      encodeAppend([write('a')]),
      encodeAppend([write('b', ['t1'])]),
      encodeAppend([write('c')]),
    ]);
    expect(merged.slice(15)).toEqual([['t1'], [0, 0, 1, 0, 0, 0]]);
    expect(batchParams([encodeAppend([write('a')]), encodeAppend([write('b')])]).slice(15)).toEqual(
      [null, null],
    );
  });
});
