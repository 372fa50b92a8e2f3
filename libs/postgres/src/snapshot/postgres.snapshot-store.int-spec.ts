import {
  Command,
  type CommandContext,
  CommandExecutor,
  type CommandLogic,
  ExpectedVersion,
  InvalidOptionsError,
  type RecordedEvent,
  type SnapshotKey,
  type SnapshotProblem,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { snapshotDifferentialSuite, testEvent } from '@eventcore/core/testing';
import type { Pool } from 'pg';
import type { QueryOptions, SqlExecutor, SqlQueryable } from '../executor/sql-executor';
import { PgPoolSqlExecutor } from '../executor/pg-pool.sql-executor';
import { createPostgresEventStore } from '../postgres.factory';
import { PostgresEventStore } from '../postgres.event-store';
import { migrate } from '../schema/migrate';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '../testing/test-database';
import { createPostgresSnapshotStore, PostgresSnapshotStore } from './postgres.snapshot-store';

type CountEvent = { type: 'Counted'; data: { before: number } };

/** Counts the events of its stream; decides on the count, so a wrong fold shows in the data. */
@Command({ name: 'SnapshotCount', snapshot: { every: 10 } })
class Count implements CommandLogic<{ n: number }, CountEvent> {
  @Stream() counter: StreamId;

  constructor(counter: string) {
    this.counter = counter as StreamId;
  }

  initialState() {
    return { n: 0 };
  }

  apply(state: { n: number }, _event: RecordedEvent<CountEvent>) {
    return { n: state.n + 1 };
  }

  handle(state: { n: number }, ctx: CommandContext<CountEvent, Count>): void {
    ctx.emit('counter', { type: 'Counted', data: { before: state.n } });
  }
}

/** Every statement sent, for counting round trips. */
class CountingExecutor implements SqlExecutor {
  readonly statements: string[] = [];

  constructor(private readonly inner: SqlExecutor) {}

  query<R>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<R[]> {
    this.statements.push(text);
    return this.inner.query<R>(text, params, options);
  }

  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    this.statements.push('transaction');
    return this.inner.transaction(work);
  }

  stats() {
    return this.inner.stats();
  }

  close() {
    return this.inner.close();
  }
}

describeWithServer('PostgreSQL snapshot store', () => {
  let database: TestDatabase;
  let pool: Pool;
  let schemas = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = database.pool({ max: 16 });
  });

  afterAll(async () => {
    await database?.drop();
  });

  snapshotDifferentialSuite(
    'PostgreSQL server',
    async () => {
      const events = await createPostgresEventStore({ pool, schema: `diff_${++schemas}` });
      return { events, snapshots: await createPostgresSnapshotStore(events) };
    },
    { numRuns: 10, scheduled: false },
  );

  /** A store and a snapshot store over a counting executor on a fresh pool. */
  const open = async (schema: string) => {
    const counting = new CountingExecutor(new PgPoolSqlExecutor(database.pool({ max: 4 }), true));
    await migrate(counting, { schema });
    const events = new PostgresEventStore(counting, { schema });
    const snapshots = new PostgresSnapshotStore(counting, schema);
    counting.statements.length = 0;
    return { counting, events, snapshots };
  };

  it('survives a restart: a new store and executor load the snapshot, in one round trip with the events after it', async () => {
    const schema = `restart_${++schemas}`;
    const id = 'counter-1';
    const first = await open(schema);
    const writer = new CommandExecutor(first.events, { snapshots: { store: first.snapshots } });
    for (let i = 0; i < 25; i++) await writer.execute(new Count(id));
    await writer.close();
    await first.events.close();

    const second = await open(schema);
    const loads: boolean[] = [];
    const executor = new CommandExecutor(second.events, {
      snapshots: {
        store: {
          serializer: second.snapshots.serializer,
          load: async (key) => {
            const load = await second.snapshots.load(key);
            loads.push(load.snapshot !== undefined);
            return load;
          },
          save: (s) => second.snapshots.save(s),
          prune: (s, k) => second.snapshots.prune(s, k),
        },
      },
    });
    const result = await executor.execute(new Count(id));
    expect(result.events[0]!.data).toEqual({ before: 25 });
    expect(loads).toEqual([true]);
    // The load (snapshot and events after it) and the append: two statements, no other read.
    expect(second.counting.statements).toHaveLength(2);
    expect(second.counting.statements[0]).toContain('.snapshots');
    await executor.close();
    await second.events.close();
  });

  it('loads the newest snapshot that is not ahead of its streams, and only the events after it', async () => {
    const schema = `load_${++schemas}`;
    const { events, snapshots } = await open(schema);
    const id = streamId('s-1');
    await events.append([
      {
        streamId: id,
        expected: ExpectedVersion.noStream,
        events: [testEvent('A'), testEvent('B'), testEvent('C')],
      },
    ]);
    const key: SnapshotKey = {
      commandName: 'C',
      boundary: [id],
      stateVersion: 1,
      fingerprint: 'f',
    };
    const state = new Uint8Array([1, 2, 3]);
    await snapshots.save({ ...key, versions: [1], encoding: 'json', state });
    // Ahead of the stream (a log restored from an older backup): never used.
    await snapshots.save({ ...key, versions: [9], encoding: 'json', state });
    const load = await snapshots.load(key);
    expect(load.snapshot).toEqual({ versions: [1], encoding: 'json', state });
    expect(load.events.map((e) => e.type)).toEqual(['B', 'C']);
    expect(load.versions.get(id)).toBe(3);
    expect(load.position).toEqual((await events.readStreams([id])).position);
    // Another state version or fingerprint: no snapshot, every event.
    for (const other of [{ stateVersion: 2 }, { fingerprint: 'g' }]) {
      const miss = await snapshots.load({ ...key, ...other });
      expect(miss.snapshot).toBeUndefined();
      expect(miss.events).toHaveLength(3);
    }
    // A stream that does not exist: version 0, no event.
    const empty = await snapshots.load({ ...key, boundary: [streamId('none')] });
    expect(empty).toMatchObject({ snapshot: undefined, events: [] });
    expect(empty.versions.get(streamId('none'))).toBe(0);
    await events.close();
  });

  it('prunes all but the newest K of a scope', async () => {
    const { events, snapshots } = await open(`prune_${++schemas}`);
    const scope = { commandName: 'C', boundary: [streamId('a'), streamId('b')] };
    for (let v = 0; v < 5; v++) {
      await snapshots.save({
        ...scope,
        stateVersion: 1,
        fingerprint: 'f',
        versions: [v, v],
        encoding: 'json',
        state: new Uint8Array([v]),
      });
    }
    await expect(snapshots.prune(scope, 2)).resolves.toBe(3);
    await expect(snapshots.prune(scope, 2)).resolves.toBe(0);
    await expect(snapshots.prune(scope, 0)).rejects.toBeInstanceOf(InvalidOptionsError);
    await events.close();
  });

  it('ignores and reports a snapshot that cannot be decoded, and decides on the full read', async () => {
    const schema = `undecodable_${++schemas}`;
    const { events, snapshots } = await open(schema);
    const id = 'counter-u';
    const problems: SnapshotProblem[] = [];
    const executor = new CommandExecutor(events, {
      snapshots: { store: snapshots, report: (p) => problems.push(p) },
    });
    for (let i = 0; i < 3; i++) await executor.execute(new Count(id));
    await snapshots.save({
      commandName: 'SnapshotCount',
      boundary: [streamId(id)],
      stateVersion: 1,
      fingerprint: new (await import('@eventcore/core')).EventTypeRegistry().fingerprint(),
      versions: [3],
      encoding: 'json',
      state: new TextEncoder().encode('{not json'),
    });
    const result = await executor.execute(new Count(id));
    expect(result.events[0]!.data).toEqual({ before: 3 });
    expect(problems.map((p) => p.kind)).toEqual(['undecodable']);
    await executor.close();
    await events.close();
  });

  it('refuses a malformed key or snapshot with a message that says what to fix', async () => {
    const { events, snapshots } = await open(`invalid_${++schemas}`);
    const key = { commandName: 'C', stateVersion: 1, fingerprint: 'f' };
    await expect(
      snapshots.load({ ...key, boundary: [streamId('b'), streamId('a')] }),
    ).rejects.toThrow(/sort the stream ids/);
    await expect(
      snapshots.save({
        ...key,
        boundary: [streamId('a')],
        versions: [1, 2],
        encoding: 'json',
        state: new Uint8Array(),
      }),
    ).rejects.toThrow(/one version per stream/);
    await events.close();
  });
});
