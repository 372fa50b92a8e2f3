import {
  AppendConditionFailedError,
  type EventQuery,
  type EventStore,
  type EventToAppend,
  ExpectedVersion,
  LogHeldBackError,
  type Position,
  type RecordedEvent,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { Client } from 'pg';
import { PgPoolSqlExecutor } from './executor/pg-pool.sql-executor';
import type { PostgresEventStore } from './postgres.event-store';
import { createPostgresEventStore } from './postgres.factory';
import { appendDcbCallSql } from './schema/dcb.sql';
import { dropEventStoreSchemaV6 } from './schema/event-store.schema';
import { migrate } from './schema/migrate';
import { CURRENT_SCHEMA_VERSION, recordVersionSql, SCHEMA_MIGRATIONS } from './schema/migrations';
import { DCB_LOCK_NAMESPACE } from './schema/schema-name';
import { encodeAppend } from './sql/append-request';
import { queryProbes } from './sql/query-probes';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

const tagged = (type: string, tags: readonly string[], data: unknown = {}): EventToAppend =>
  testEvent(type, data, { tags });

const byTag = (...tags: string[]): EventQuery => ({ items: [{ tags }] });

async function readLog(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let after: Position | undefined;
  for (;;) {
    const page = await store.readAll({ after, limit: 1000 });
    events.push(...page.events);
    after = page.next;
    if (page.isEnd) return events;
  }
}

/** Runs `workers` loops at once; each runs `task` for its own index. */
async function concurrently(workers: number, task: (worker: number) => Promise<void>) {
  await Promise.all(Array.from({ length: workers }, (_, worker) => task(worker)));
}

/** Resolves once some session waits for a DCB lock (asked through `client`). */
async function untilWaitingOnDcbLock(client: Client): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_locks
        WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND NOT granted`,
      [DCB_LOCK_NAMESPACE],
    );
    if (Number(rows[0]!.n) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `promise`'s rejection, or a failure when it resolves. */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describeWithServer('DCB on PostgreSQL (server)', () => {
  let database: TestDatabase;
  let schemas = 0;
  const opened: PostgresEventStore[] = [];
  const clients: Client[] = [];

  /** A store on `schema` (a fresh one by default), closed after the test. */
  const storeOn = async (
    schema: string,
    options: { poolSize?: number; heldBackWaitMs?: number } = {},
  ): Promise<PostgresEventStore> => {
    const store = await createPostgresEventStore({
      connectionString: database.url,
      schema,
      poolSize: options.poolSize ?? 8,
      heldBackWaitMs: options.heldBackWaitMs,
    });
    opened.push(store);
    return store;
  };
  const freshSchema = () => `dcb_${++schemas}`;

  /** A connection of its own (a transaction other than the store's), ended after the test. */
  const connect = async (url = database.url): Promise<Client> => {
    const client = new Client({ connectionString: url, application_name: 'eventcore-dcb-test' });
    await client.connect();
    clients.push(client);
    return client;
  };

  /** Runs the real conditional append function inside `client`'s open transaction. */
  const appendInTransaction = async (
    client: Client,
    schema: string,
    events: readonly EventToAppend[],
    condition?: { query: EventQuery; after?: number },
  ): Promise<number> => {
    const request = encodeAppend([], events);
    const probes = condition === undefined ? null : JSON.stringify(queryProbes(condition.query));
    const { rows } = await client.query<{ r_first_position: string }>(appendDcbCallSql(schema), [
      ...request.params,
      probes,
      condition?.after ?? null,
      false,
    ]);
    return Number(rows[0]!.r_first_position);
  };

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await Promise.all(
      clients.splice(0).map(async (client) => {
        await client.query('ROLLBACK').catch(() => undefined);
        await client.end();
      }),
    );
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  afterAll(async () => {
    await database?.drop();
  });

  describe('trap 1: the racy check', () => {
    const CLIENTS = 20;

    /** 20 clients over 4 stores (4 pools: separate connections, as separate processes would be). */
    const fourStores = async () => {
      const schema = freshSchema();
      const stores: PostgresEventStore[] = [];
      for (let i = 0; i < 4; i++) stores.push(await storeOn(schema, { poolSize: CLIENTS / 4 }));
      return stores;
    };

    it(`lets exactly one of ${CLIENTS} clients claim each username (a condition without after)`, async () => {
      const stores = await fourStores();
      const ROUNDS = 15;
      const claimed: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const username = `username:user-${round}`;
        await concurrently(CLIENTS, async (client) => {
          try {
            await stores[client % 4]!.append([], {
              events: [tagged('UsernameClaimed', [username], { client })],
              condition: { failIfEventsMatch: byTag(username) },
            });
            claimed.push(username);
          } catch (error) {
            expect(error).toBeInstanceOf(AppendConditionFailedError);
          }
        });
      }
      const log = await readLog(stores[0]!);
      const perUsername = new Map<string, number>();
      for (const event of log) {
        perUsername.set(event.tags[0]!, (perUsername.get(event.tags[0]!) ?? 0) + 1);
      }
      expect([...perUsername.values()]).toEqual(new Array<number>(ROUNDS).fill(1));
      expect(claimed).toHaveLength(ROUNDS);
    });

    it(`lets at most one append succeed per read position when ${CLIENTS} clients read, decide and append on one query`, async () => {
      const stores = await fourStores();
      const counter = byTag('counter:c1');
      let succeeded = 0;
      await concurrently(CLIENTS, async (client) => {
        const store = stores[client % 4]!;
        for (let attempt = 0; attempt < 8; attempt++) {
          const read = await store.read(counter);
          const after = read.events.at(-1)?.globalPosition;
          try {
            await store.append([], {
              events: [tagged('Incremented', ['counter:c1'], { after: after ?? null, client })],
              condition: { failIfEventsMatch: counter, after },
            });
            succeeded++;
          } catch (error) {
            expect(error).toBeInstanceOf(AppendConditionFailedError);
          }
        }
      });
      // From the log: every event was decided on the event just before it, so no two on one read.
      const events = (await stores[0]!.read(counter)).events;
      expect(events).toHaveLength(succeeded);
      expect(succeeded).toBeGreaterThan(1);
      events.forEach((event, i) => {
        expect((event.data as { after: number | null }).after).toBe(
          i === 0 ? null : events[i - 1]!.globalPosition,
        );
      });
    });
  });

  describe('trap 2: the late commit', () => {
    it('never lets a read hand out a later event while an earlier matching one may still commit; the condition catches it', async () => {
      const schema = freshSchema();
      const store = await storeOn(schema);
      const impatient = await storeOn(schema, { heldBackWaitMs: 100 });
      const course = byTag('course:c1');
      const first = await store.append([], { events: [tagged('Subscribed', ['course:c1'])] });
      const before = await store.read(course);
      expect(before.events.map((e) => e.id)).toEqual([first.events[0]!.id]);
      const after = before.events[0]!.globalPosition;

      // A takes the earlier position in a transaction that stays open...
      const a = await connect();
      const aPid = (await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await a.query('BEGIN');
      const aEvent = tagged('Subscribed', ['course:c1'], { by: 'A' });
      const aPosition = await appendInTransaction(a, schema, [aEvent]);
      // ...B takes a later one and commits.
      const b = await store.append([], {
        events: [tagged('Subscribed', ['course:c1'], { by: 'B' })],
      });
      expect(b.events[0]!.globalPosition).toBeGreaterThan(aPosition);

      // Reading B without A would let a decision use B's position and miss A: the read waits for
      // A instead, and after its wait limit fails, naming A.
      const held = await failureOf(impatient.read(course));
      expect(held).toBeInstanceOf(LogHeldBackError);
      expect((held as LogHeldBackError).waitedMs).toBeGreaterThanOrEqual(100);
      expect((held as LogHeldBackError).blocking).toMatchObject({
        pid: aPid,
        database: database.name,
        applicationName: 'eventcore-dcb-test',
        state: 'idle in transaction',
      });
      // Also when B alone would fill the page.
      await expect(impatient.read(course, { from: after + 1, limit: 1 })).rejects.toBeInstanceOf(
        LogHeldBackError,
      );
      // A query that B does not match is not held back (A is not committed: nothing to wait for).
      expect((await impatient.read(byTag('course:c2'))).events).toEqual([]);

      // A patient read waits while A is open, and returns both once A commits.
      let settled = false;
      const waiting = store.read(course).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
      await a.query('COMMIT');
      const both = await waiting;
      expect(both.events.map((e) => e.id)).toEqual([
        first.events[0]!.id,
        aEvent.id,
        b.events[0]!.id,
      ]);

      // A decision on the first read fails: A (and B) came after it.
      const stale = await failureOf(
        store.append([], {
          events: [tagged('Subscribed', ['course:c1'])],
          condition: { failIfEventsMatch: course, after },
        }),
      );
      expect(stale).toBeInstanceOf(AppendConditionFailedError);
      // One on the read that saw A and B passes.
      await store.append([], {
        events: [tagged('Subscribed', ['course:c1'])],
        condition: { failIfEventsMatch: course, after: both.events.at(-1)!.globalPosition },
      });
    });

    it('makes a condition whose read came before a matching open transaction wait for it, then fail', async () => {
      const schema = freshSchema();
      const store = await storeOn(schema);
      const course = byTag('course:c1');
      await store.append([], { events: [tagged('Subscribed', ['course:c1'])] });
      const a = await connect();
      await a.query('BEGIN');
      await appendInTransaction(a, schema, [tagged('Subscribed', ['course:c1'], { by: 'A' })]);
      // An unrelated event commits after A took its position: nothing the read must wait for.
      await store.append([], { events: [tagged('Other', ['course:c2'])] });

      const read = await store.read(course);
      expect(read.events).toHaveLength(1);
      let settled = false;
      const decision = store
        .append([], {
          events: [tagged('Subscribed', ['course:c1'])],
          condition: { failIfEventsMatch: course, after: read.events[0]!.globalPosition },
        })
        .finally(() => (settled = true));
      await untilWaitingOnDcbLock(a);
      expect(settled).toBe(false);
      await a.query('COMMIT');
      await expect(decision).rejects.toBeInstanceOf(AppendConditionFailedError);
      expect((await store.read(course)).events).toHaveLength(2);
    });
  });

  describe('trap 3: the side door', () => {
    it('orders a plain stream append of a matching event against a concurrent condition check', async () => {
      const schema = freshSchema();
      const streams = await storeOn(schema, { poolSize: 10 });
      const conditions = await storeOn(schema, { poolSize: 10 });
      const ROUNDS = 300;
      const outcomes: { round: number; conditional: string | undefined }[] = [];
      await concurrently(10, async (worker) => {
        for (let round = worker; round < ROUNDS; round += 10) {
          const tag = `seat:s${round}`;
          const [, conditional] = await Promise.allSettled([
            streams.append([
              {
                streamId: streamId(`booking-${round}`),
                expected: ExpectedVersion.noStream,
                events: [tagged('SeatBooked', [tag])],
              },
            ]),
            conditions.append([], {
              events: [tagged('SeatBooked', [tag])],
              condition: { failIfEventsMatch: byTag(tag) },
            }),
          ]);
          if (conditional.status === 'rejected') {
            expect(conditional.reason).toBeInstanceOf(AppendConditionFailedError);
          }
          outcomes.push({
            round,
            conditional:
              conditional.status === 'fulfilled' ? conditional.value.events[0]!.id : undefined,
          });
        }
      });
      // A conditional append that succeeded saw no matching event: none may sit before it.
      const log = await readLog(streams);
      const violations = outcomes.filter(({ round, conditional }) => {
        if (conditional === undefined) return false;
        const seat = log.filter((e) => e.tags.includes(`seat:s${round}`));
        return seat[0]!.id !== conditional;
      });
      expect(violations).toEqual([]);
      // Both orders happened: the race was real.
      const won = outcomes.filter((o) => o.conditional !== undefined).length;
      expect(won).toBeGreaterThan(0);
      expect(won).toBeLessThan(ROUNDS);
    }, 120_000);

    it('lets appends of other types and tags through while a condition holds its lock, and holds back a matching one', async () => {
      const schema = freshSchema();
      const store = await storeOn(schema);
      // A conditional append on tag X, left open: it holds X's key exclusively.
      const holder = await connect();
      await holder.query('BEGIN');
      await appendInTransaction(holder, schema, [tagged('Reserved', ['x'])], { query: byTag('x') });

      const unrelated = await store.append([
        {
          streamId: streamId('unrelated'),
          expected: ExpectedVersion.any,
          events: [tagged('Y', ['z'])],
        },
      ]);
      expect(unrelated.events).toHaveLength(1);

      let settled = false;
      const matching = store
        .append([
          {
            streamId: streamId('matching'),
            expected: ExpectedVersion.any,
            events: [tagged('Y', ['x'])],
          },
        ])
        .finally(() => (settled = true));
      await untilWaitingOnDcbLock(holder);
      expect(settled).toBe(false);
      await holder.query('COMMIT');
      const written = await matching;
      // The holder took its position first; the held-back append comes after it in the log.
      const log = await readLog(store);
      expect(log.map((e) => e.id)).toEqual([
        expect.any(String),
        unrelated.events[0]!.id,
        written.events[0]!.id,
      ]);
      expect(log[0]!.type).toBe('Reserved');
    });
  });

  it('refuses a conditional append inside a REPEATABLE READ transaction, whose snapshot predates the locks', async () => {
    const schema = freshSchema();
    await storeOn(schema);
    const client = await connect();
    for (const level of ['REPEATABLE READ', 'SERIALIZABLE']) {
      await client.query(`BEGIN ISOLATION LEVEL ${level}`);
      const error = await failureOf(
        appendInTransaction(client, schema, [tagged('Claimed', ['x'])], { query: byTag('x') }),
      );
      expect(error).toMatchObject({
        code: '0A000',
        message: expect.stringContaining('READ COMMITTED'),
      });
      await client.query('ROLLBACK');
    }
  });

  it('hands out positions in log order on every append path: stream batches, conditions, stream-less events', async () => {
    const schema = freshSchema();
    const stores = [await storeOn(schema), await storeOn(schema), await storeOn(schema)];
    await concurrently(24, async (worker) => {
      const store = stores[worker % 3]!;
      for (let i = 0; i < 25; i++) {
        const path = (worker + i) % 3;
        if (path === 0) {
          await store.append([
            {
              streamId: streamId(`ordered-${worker % 5}`),
              expected: ExpectedVersion.any,
              events: [tagged('Streamed', ['ordered'], { worker, i })],
            },
          ]);
        } else if (path === 1) {
          await store.append([], {
            events: [tagged('Conditional', ['ordered', `w${worker}-${i}`], { worker, i })],
            condition: { failIfEventsMatch: byTag(`w${worker}-${i}`) },
          });
        } else {
          await store.append([], { events: [tagged('Unstreamed', ['ordered'], { worker, i })] });
        }
      }
    });
    const log = await readLog(stores[0]!);
    expect(log).toHaveLength(24 * 25);
    const positions = log.map((e) => e.globalPosition);
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    expect(new Set(positions).size).toBe(positions.length);
    const read = await stores[0]!.read({ items: [] });
    expect(read.events.map((e) => e.id)).toEqual(log.map((e) => e.id));
    // Tags survived batching (stream appends share batches) on every path.
    expect(log.filter((e) => !e.tags.includes('ordered'))).toEqual([]);
    expect((await stores[0]!.read(byTag('ordered'))).events).toHaveLength(log.length);
  });

  it('throws LogHeldBackError naming an idle write transaction in another database after heldBackWaitMs', async () => {
    const other = await createTestDatabase();
    try {
      const store = await storeOn(freshSchema(), { heldBackWaitMs: 150 });
      const idle = await connect(other.url);
      const pid = (await idle.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
        .pid;
      await idle.query('BEGIN');
      await idle.query('SELECT pg_current_xact_id()'); // holds a transaction id: the horizon
      await store.append([], { events: [tagged('Registered', ['user:u1'])] });

      const error = await failureOf(store.read(byTag('user:u1')));
      expect(error).toBeInstanceOf(LogHeldBackError);
      const held = error as LogHeldBackError;
      expect(held.waitedMs).toBeGreaterThanOrEqual(150);
      expect(held.blocking).toMatchObject({
        pid,
        database: other.name,
        applicationName: 'eventcore-dcb-test',
        state: 'idle in transaction',
      });
      expect(held.blocking!.ageSeconds).toBeGreaterThan(0);
      expect(held.blocking!.queryStart).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(held.message).toContain(`pid ${pid}`);

      await idle.query('ROLLBACK');
      expect((await store.read(byTag('user:u1'))).events).toHaveLength(1);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
      await other.drop();
    }
  });

  it('upgrades a populated version 5 store: old events read with tags [], new appends and conditions work', async () => {
    const schema = freshSchema();
    const pool = database.pool({ max: 2 });
    for (const migration of SCHEMA_MIGRATIONS.filter((m) => m.version <= 5)) {
      for (const statement of migration.up(schema)) await pool.query(statement);
      await pool.query(recordVersionSql(schema), [migration.version, migration.name]);
    }
    const old = testEvent('Enrolled', { student: 's1' });
    // What a version 5 library sends (its batch function has no tag parameters).
    await pool.query(
      `SELECT * FROM ${schema}.append_batch_v5($1::integer[], $2::text[], $3::text[], $4::bigint[], $5::integer[], $6::integer[], $7::integer[], $8::uuid[], $9::text[], $10::integer[], $11::jsonb[], $12::jsonb[], $13::timestamptz[], $14::text[], $15::text[], $16::boolean)`,
      [
        [1],
        ['before'],
        ['any'],
        [null],
        [1],
        [1],
        [1],
        [old.id],
        [old.type],
        [1],
        [JSON.stringify(old.data)],
        [JSON.stringify(old.metadata)],
        [old.occurredAt],
        null,
        null,
        false,
      ],
    );
    await expect(migrate(new PgPoolSqlExecutor(pool, false), { schema })).resolves.toBe(
      CURRENT_SCHEMA_VERSION,
    );
    const store = await storeOn(schema);
    const [before] = (await store.readStreams([streamId('before')])).events;
    expect(before).toMatchObject({ id: old.id, tags: [], data: { student: 's1' } });
    // The old event is found by its type and guards a condition on it.
    const enrolled = { items: [{ types: ['Enrolled'] }] };
    expect((await store.read(enrolled)).events.map((e) => e.id)).toEqual([old.id]);
    await expect(
      store.append([], {
        events: [tagged('Enrolled', ['student:s2'])],
        condition: { failIfEventsMatch: enrolled },
      }),
    ).rejects.toBeInstanceOf(AppendConditionFailedError);
    await store.append([], {
      events: [tagged('Enrolled', ['student:s2'])],
      condition: { failIfEventsMatch: enrolled, after: before!.globalPosition },
    });
    expect((await store.read(byTag('student:s2'))).events).toHaveLength(1);

    // Version 6 is not undone while a tag would be lost.
    await expect(
      (async () => {
        for (const statement of dropEventStoreSchemaV6(schema)) await pool.query(statement);
      })(),
    ).rejects.toThrow(/holds tagged events/);
  });
});
