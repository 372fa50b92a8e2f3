import {
  ConcurrencyConflictError,
  StoreClosedError,
  ExpectedVersion,
  InvalidAppendError,
  InvalidOptionsError,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { Pool } from 'pg';
import type { AppendBatchingOptions } from './append-batcher';
import type { ReadBatchingOptions } from './read-batcher';
import { PgPoolSqlExecutor } from './executor/pg-pool.sql-executor';
import type { QueryOptions } from './executor/sql-executor';
import { PostgresEventStore } from './postgres.event-store';
import { createPostgresEventStore } from './postgres.factory';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

/** A pool executor that counts the append batches and stream reads it sends. */
class CountingExecutor extends PgPoolSqlExecutor {
  batches = 0;
  reads = 0;
  /** The streams of each append batch, in order. */
  readonly sent: string[][] = [];
  override query<R>(text: string, params?: readonly unknown[], options?: QueryOptions) {
    if (text.includes('append_batch_v8')) {
      this.batches++;
      this.sent.push(params![1] as string[]);
    }
    if (text.includes('WITH h AS')) this.reads++;
    return super.query<R>(text, params, options);
  }
}

const append = (
  id: StreamId,
  expected: ExpectedVersion = ExpectedVersion.any,
  events = [testEvent('E')],
) => [{ streamId: id, expected, events }];

describeWithServer('append and read batching on PostgreSQL (server)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let executor: CountingExecutor;
  let round = 0;
  const ids = () => {
    round++;
    return Array.from({ length: 5 }, (_, i) => streamId(`batched-${round}-${i}`));
  };

  const storeWith = (
    appendBatching: AppendBatchingOptions | false,
    readBatching: ReadBatchingOptions | false = false,
  ) => {
    executor = new CountingExecutor(pool, false);
    return new PostgresEventStore(executor, { schema: 'batching', appendBatching, readBatching });
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = database.pool({ max: 8 });
    await (await createPostgresEventStore({ pool, schema: 'batching' })).close();
  });
  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('sends appends that arrive while a batch is on the wire together, each with its own result', async () => {
    const store = storeWith({ maxInFlight: 1 });
    const [a, b, c, d, e] = ids() as [StreamId, StreamId, StreamId, StreamId, StreamId];
    await store.append(append(b));
    executor.batches = 0;
    // The first goes at once, alone; the four others queue behind it and leave together.
    const results = await Promise.allSettled([
      store.append(append(a)),
      store.append(append(b, ExpectedVersion.exact(1), [testEvent('B2'), testEvent('B3')])),
      store.append(append(c, ExpectedVersion.exact(3))), // conflicts: c does not exist
      store.append(append(d, ExpectedVersion.noStream)),
      store.append([
        { streamId: e, expected: ExpectedVersion.noStream, events: [testEvent('E1')] },
        { streamId: a, expected: ExpectedVersion.any, events: [] }, // a guard, after a's first batch
      ]),
    ]);
    expect(executor.batches).toBe(2);
    const [ra, rb, rc, rd, re] = results;
    expect(rc.status).toBe('rejected');
    const conflict = (rc as PromiseRejectedResult).reason as ConcurrencyConflictError;
    expect(conflict).toBeInstanceOf(ConcurrencyConflictError);
    expect(conflict.conflicts).toEqual([
      { streamId: c, expected: ExpectedVersion.exact(3), actual: 0 },
    ]);
    const written = [ra, rb, rd, re].map((r) => {
      if (r.status !== 'fulfilled') throw r.reason;
      return r.value;
    });
    expect(written.map((r) => r.events.map((ev) => ev.streamVersion))).toEqual([
      [1],
      [2, 3],
      [1],
      [1],
    ]);
    // What each append returned is what is stored, positions included, and nothing of c.
    const read = await store.readStreams([a, b, c, d, e]);
    expect(read.versions.get(c)).toBe(0);
    const returned = written.flatMap((r) => r.events);
    expect(read.events.filter((ev) => ev.streamVersion > 1 || ev.streamId !== b)).toEqual(
      [...returned].sort((x, y) => x.globalPosition - y.globalPosition),
    );
    await store.close();
  });

  it('fails only the faulty append when a batch fails as a whole (a stored event id)', async () => {
    const store = storeWith({ maxInFlight: 1 });
    const [a, b, c, d] = ids() as [StreamId, StreamId, StreamId, StreamId];
    const stored = (await store.append(append(a))).events[0]!;
    executor.batches = 0;
    const duplicate = { ...testEvent('Again'), id: stored.id };
    const results = await Promise.allSettled([
      store.append(append(a)),
      store.append(append(b)),
      store.append(append(c, ExpectedVersion.any, [duplicate])),
      store.append(append(d)),
    ]);
    // One alone, one batch of three that fails, then each of the three alone.
    expect(executor.batches).toBe(5);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidAppendError);
    const read = await store.readStreams([a, b, c, d]);
    expect([a, b, c, d].map((id) => read.versions.get(id))).toEqual([2, 1, 0, 1]);
    await store.close();
  });

  it('never puts two appends on one stream into one batch, and keeps their order', async () => {
    const store = storeWith({ maxInFlight: 1 });
    const [a, b] = ids() as [StreamId, StreamId];
    executor.batches = 0;
    const results = await Promise.all([
      store.append(append(b)),
      store.append(append(a, ExpectedVersion.noStream)),
      store.append(append(a, ExpectedVersion.exact(1))),
      store.append(append(a, ExpectedVersion.exact(2))),
    ]);
    expect(executor.batches).toBe(4);
    expect(results.slice(1).map((r) => r.events[0]!.streamVersion)).toEqual([1, 2, 3]);
    await store.close();
  });

  it('holds an append back while a batch on the wire has its stream, and sends others meanwhile', async () => {
    const store = storeWith({ maxInFlight: 2 });
    const [a, b] = ids() as [StreamId, StreamId];
    executor.batches = 0;
    const first = store.append(append(a, ExpectedVersion.noStream));
    const second = store.append(append(a, ExpectedVersion.exact(1))); // waits for the first
    const other = store.append(append(b)); // takes the free slot at once
    const [r1, r2, rb] = await Promise.all([first, second, other]);
    expect(executor.sent).toEqual([[a], [b], [a]]);
    expect([r1, r2, rb].map((r) => r.events[0]!.streamVersion)).toEqual([1, 2, 1]);
    expect(r1.events[0]!.globalPosition).toBeLessThan(r2.events[0]!.globalPosition);
    await store.close();
  });

  it('batches many concurrent appends: nothing lost, doubled or out of order', async () => {
    const store = storeWith({});
    const streams = Array.from({ length: 40 }, (_, i) => streamId(`many-${i}`));
    executor.batches = 0;
    const perStream = 10;
    await Promise.all(
      streams.map(async (id) => {
        for (let v = 0; v < perStream; v++) {
          await store.append(append(id, ExpectedVersion.exact(v)));
        }
      }),
    );
    expect(executor.batches).toBeLessThan(streams.length * perStream);
    const read = await store.readStreams(streams);
    expect(read.events).toHaveLength(streams.length * perStream);
    expect(new Set(read.events.map((e) => e.globalPosition)).size).toBe(read.events.length);
    for (const id of streams) {
      expect(read.events.filter((e) => e.streamId === id).map((e) => e.streamVersion)).toEqual(
        Array.from({ length: perStream }, (_, i) => i + 1),
      );
    }
    await store.close();
  });

  it('sends every append on its own when batching is off', async () => {
    const store = storeWith(false);
    const [a, b, c] = ids() as [StreamId, StreamId, StreamId];
    executor.batches = 0;
    await Promise.all([a, b, c].map((id) => store.append(append(id))));
    expect(executor.batches).toBe(3);
    await store.close();
  });

  it('serves reads that arrive while a read is on the wire with one query, each with its own streams', async () => {
    const store = storeWith(false, { maxInFlight: 1 });
    const [a, b, c, d] = ids() as [StreamId, StreamId, StreamId, StreamId];
    await store.append(append(a, ExpectedVersion.any, [testEvent('A1'), testEvent('A2')]));
    await store.append(append(b));
    await store.append([...append(c), ...append(a)]);
    executor.reads = 0;
    const [first, ab, cd, dOnly] = await Promise.all([
      store.readStreams([a]),
      store.readStreams([a, b]),
      store.readStreams([c, d]),
      store.readStreams([d]),
    ]);
    expect(executor.reads).toBe(2); // the first alone, the three others together
    // Each gets what it would have got alone: its streams' events, in position order, and versions.
    const alone = await Promise.all([store.readStreams([a, b]), store.readStreams([c, d])]);
    expect(ab.events).toEqual(alone[0]!.events);
    expect(cd.events).toEqual(alone[1]!.events);
    expect([...ab.versions]).toEqual([
      [a, 3],
      [b, 1],
    ]);
    expect([...cd.versions]).toEqual([
      [c, 1],
      [d, 0],
    ]);
    expect(dOnly.events).toEqual([]);
    expect(dOnly.versions.get(d)).toBe(0);
    expect(first.events.map((e) => e.streamVersion)).toEqual([1, 2, 3]);
    // One query, one snapshot: the same position for the three.
    expect(new Set([ab.position, cd.position, dOnly.position]).size).toBe(1);
    await store.close();
  });

  it('sends every read on its own when read batching is off', async () => {
    const store = storeWith(false, false);
    const [a, b, c] = ids() as [StreamId, StreamId, StreamId];
    executor.reads = 0;
    await Promise.all([a, b, c].map((id) => store.readStreams([id])));
    expect(executor.reads).toBe(3);
    await store.close();
  });

  it('finishes the appends and reads it accepted when closed, and refuses new ones', async () => {
    // A store that owns its pool: closing ends it.
    const store = await createPostgresEventStore({
      connectionString: database.url,
      schema: 'batching',
      appendBatching: { maxInFlight: 1 },
      readBatching: { maxInFlight: 1 },
    });
    const streams = ids();
    const appends = streams.map((id) => store.append(append(id)));
    const reads = streams.map((id) => store.readStreams([id]));
    const closed = store.close();
    await expect(store.append(append(streams[0]!))).rejects.toBeInstanceOf(StoreClosedError);
    expect((await Promise.all(appends)).map((r) => r.events.length)).toEqual([1, 1, 1, 1, 1]);
    await Promise.all(reads);
    await closed;
  });

  it('refuses bad batching options before opening anything', async () => {
    await expect(
      createPostgresEventStore({
        connectionString: database.url,
        appendBatching: { maxInFlight: 0 },
      }),
    ).rejects.toThrow(InvalidOptionsError);
    await expect(
      createPostgresEventStore({
        connectionString: database.url,
        appendBatching: { maxAppends: 1.5 },
      }),
    ).rejects.toThrow(/appendBatching.maxAppends/);
    await expect(
      createPostgresEventStore({
        connectionString: database.url,
        readBatching: { maxInFlight: -1 },
      }),
    ).rejects.toThrow(/readBatching.maxInFlight/);
  });
});
