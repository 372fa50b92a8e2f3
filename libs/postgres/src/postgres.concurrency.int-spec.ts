import {
  BusinessRuleViolationError,
  CommandExecutor,
  ConcurrencyConflictError,
  type EventStore,
  ExpectedVersion,
  newEventId,
  type Position,
  type RecordedEvent,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { Client } from 'pg';
import { createPostgresEventStore } from './postgres.factory';
import type { PostgresEventStore } from './postgres.event-store';
import { appendBatchCallSql } from './schema/dcb.sql';
import { batchParams } from './sql/append-batch';
import { encodeAppend } from './sql/append-request';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';
// The bank sample's money domain, and the core fixture's withdrawal limited by a policy stream.
import {
  accountStream,
  Deposit,
  LimitedWithdraw,
  OpenAccount,
  runningBalances,
  TransferMoney,
} from '../../core/src/command/__fixtures__/bank.commands';

const CLIENTS = 16;

/** Runs `total` tasks with `concurrency` in flight; returns every outcome. */
async function inParallel<T>(total: number, concurrency: number, task: (i: number) => Promise<T>) {
  const outcomes: PromiseSettledResult<T>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      outcomes[i] = await task(i).then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

async function readLog(store: EventStore, after?: Position): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after, limit: 500 });
    events.push(...page.events);
    after = page.next;
    if (page.isEnd) return events;
  }
}

const ACCOUNTS = ['1', '2', '3', '4', '5'].map(accountStream);

/** Opens an account and deposits `amount` into it: two events. */
async function openWith(executor: CommandExecutor, account: StreamId, amount: number) {
  await executor.execute(new OpenAccount(account, 'owner'));
  await executor.execute(new Deposit(account, amount));
}

/** Opens the five accounts with 100 each, then runs 400 random transfers from CLIENTS clients. */
async function randomTransfers(executorOf: (i: number) => CommandExecutor, seed: number) {
  for (const account of ACCOUNTS) await openWith(executorOf(0), account, 100);
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return inParallel(400, CLIENTS, async (i) => {
    const from = ACCOUNTS[Math.floor(random() * 5)]!;
    let to = ACCOUNTS[Math.floor(random() * 5)]!;
    if (to === from) to = ACCOUNTS[(ACCOUNTS.indexOf(from) + 1) % 5]!;
    return executorOf(i).execute(new TransferMoney(from, to, 1 + Math.floor(random() * 60)));
  });
}

/**
 * Only rule violations failed; the total is conserved; no balance ever went negative; versions are
 * contiguous; and the log holds exactly the acknowledged transfers' events after the openings.
 */
async function expectMoneyConserved(
  store: EventStore,
  outcomes: PromiseSettledResult<{ events: readonly { id: string }[] }>[],
): Promise<void> {
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected')
      expect(outcome.reason).toBeInstanceOf(BusinessRuleViolationError);
  }
  const acknowledged = outcomes.filter((o) => o.status === 'fulfilled');
  expect(acknowledged.length).toBeGreaterThan(0);
  const read = await store.readStreams(ACCOUNTS);
  let total = 0;
  for (const account of ACCOUNTS) {
    const events = read.events.filter((e) => e.streamId === account);
    const balances = runningBalances(events);
    expect(balances.filter((b) => b < 0)).toEqual([]);
    total += balances.at(-1) ?? 0;
    const versions = events.map((e) => e.streamVersion);
    expect(versions).toEqual(versions.map((_, i) => i + 1));
  }
  expect(total).toBe(500);
  const written = acknowledged.flatMap((o) => o.value.events.map((e) => e.id));
  const logged = read.events.slice(2 * ACCOUNTS.length).map((e) => e.id);
  expect([...logged].sort()).toEqual([...written].sort());
}

describeWithServer('PostgresEventStore under concurrency (server)', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let schemas = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  beforeEach(async () => {
    store = await createPostgresEventStore({
      connectionString: database.url,
      schema: `concurrency_${++schemas}`,
      poolSize: CLIENTS + 4,
    });
  });

  afterEach(async () => {
    await store?.close();
  });

  afterAll(async () => {
    await database?.drop();
  });

  const generousRetry = {
    maxAttempts: 1000,
    initialDelayMs: 1,
    maxDelayMs: 20,
    timeoutMs: 120_000,
  };

  it(`keeps the total and every balance non-negative under random transfers among 5 accounts (${CLIENTS} clients)`, async () => {
    const executor = new CommandExecutor(store, { retry: generousRetry });
    await expectMoneyConserved(store, await randomTransfers(() => executor, 42));
  });

  it(`never deadlocks on 1,000 transfers A→B and B→A at once (${CLIENTS} clients)`, async () => {
    // Sixteen clients on two streams conflict constantly: back off enough to let one through.
    const executor = new CommandExecutor(store, {
      retry: { ...generousRetry, initialDelayMs: 10, maxDelayMs: 1000 },
    });
    const [a, b] = [accountStream('pair-a'), accountStream('pair-b')];
    await openWith(executor, a, 1_000_000);
    await openWith(executor, b, 1_000_000);
    const outcomes = await inParallel(1000, CLIENTS, (i) =>
      executor.execute(i % 2 === 0 ? new TransferMoney(a, b, 3) : new TransferMoney(b, a, 2)),
    );
    const failures = outcomes
      .filter((o) => o.status === 'rejected')
      .map((o) => (o as PromiseRejectedResult).reason);
    expect(failures).toEqual([]);
    const read = await store.readStreams([a, b]);
    const balance = (id: StreamId) =>
      runningBalances(read.events.filter((e) => e.streamId === id)).at(-1);
    expect(balance(a)).toBe(1_000_000 - 500 * 3 + 500 * 2);
    expect(balance(b)).toBe(1_000_000 + 500 * 3 - 500 * 2);
    expect(read.versions.get(a)).toBe(1002);
    expect(read.versions.get(b)).toBe(1002);
  }, 300_000);

  it('retries a command whose read-only stream moved between its read and its append', async () => {
    const [account, policy] = [accountStream('guarded'), streamId('bank-policy')];
    await store.append([
      {
        streamId: account,
        expected: ExpectedVersion.noStream,
        events: [
          testEvent('AccountOpened', { owner: 'owner' }),
          testEvent('MoneyDeposited', { amount: 50 }),
        ],
      },
      {
        streamId: policy,
        expected: ExpectedVersion.noStream,
        events: [testEvent('WithdrawalLimitSet', { limit: 40 })],
      },
    ]);
    // A store that lets another writer move the policy right after the command's first read.
    let moved = false;
    const appendErrors: unknown[] = [];
    const racing: EventStore = Object.assign(Object.create(store) as EventStore, {
      readStreams: async (ids: readonly StreamId[]) => {
        const result = await store.readStreams(ids);
        if (!moved) {
          moved = true;
          await store.append([
            {
              streamId: policy,
              expected: ExpectedVersion.exact(1),
              events: [testEvent('WithdrawalLimitSet', { limit: 10 })],
            },
          ]);
        }
        return result;
      },
      append: (writes: Parameters<EventStore['append']>[0]) =>
        store.append(writes).catch((error: unknown) => {
          appendErrors.push(error);
          throw error;
        }),
    });
    const executor = new CommandExecutor(racing, { retry: { initialDelayMs: 0, maxDelayMs: 0 } });

    // First attempt decides on the old limit (40) and conflicts on the policy, which it only read;
    // the retry sees the new limit (10) and refuses.
    await expect(executor.execute(new LimitedWithdraw(account, 30, policy))).rejects.toBeInstanceOf(
      BusinessRuleViolationError,
    );
    expect(appendErrors).toHaveLength(1);
    expect(appendErrors[0]).toBeInstanceOf(ConcurrencyConflictError);
    expect((appendErrors[0] as ConcurrencyConflictError).conflicts).toEqual([
      { streamId: policy, expected: ExpectedVersion.exact(1), actual: 2 },
    ]);
    expect((await store.readStreams([account])).versions.get(account)).toBe(2);

    const ok = await executor.execute(new LimitedWithdraw(account, 10, policy));
    expect(ok.attempts).toBe(1);
  });

  it('never lets readAll skip an event whose transaction took an earlier position and commits later', async () => {
    await store.append([
      {
        streamId: streamId('before'),
        expected: ExpectedVersion.any,
        events: [testEvent('Before')],
      },
    ]);
    const start = await readLog(store);
    expect(start).toHaveLength(1);
    const from = (await store.readAll({ limit: 10 })).next;

    const t1 = new Client({ connectionString: database.url });
    await t1.connect();
    try {
      // T1 runs the real append path inside an open transaction: it takes the earlier position.
      const early = testEvent('Early');
      await t1.query('BEGIN');
      const request = encodeAppend([
        { streamId: streamId('slow'), expected: ExpectedVersion.noStream, events: [early] },
      ]);
      const t1Rows = (
        await t1.query(appendBatchCallSql(store.schema), [...batchParams([request]), false])
      ).rows as { r_first_position: string }[];
      const t1Position = Number(t1Rows[0]!.r_first_position);

      // T2 appends and commits while T1 is still open: it takes a later position.
      const late = await store.append([
        {
          streamId: streamId('fast'),
          expected: ExpectedVersion.noStream,
          events: [testEvent('Late')],
        },
      ]);
      expect(late.events[0]!.globalPosition).toBeGreaterThan(t1Position);

      // A page read now must not hand out T2's event past T1's gap.
      const during = await store.readAll({ after: from, limit: 10 });
      expect(during.events.map((e) => e.id)).not.toContain(late.events[0]!.id);
      expect(during.events).toEqual([]);

      await t1.query('COMMIT');

      const after = await readLog(store, during.next);
      expect(after.map((e) => e.id)).toEqual([early.id, late.events[0]!.id]);
      const whole = await readLog(store);
      expect(whole.map((e) => e.type)).toEqual(['Before', 'Early', 'Late']);
      expect(whole.map((e) => e.globalPosition)).toEqual(
        [...whole.map((e) => e.globalPosition)].sort((x, y) => x - y),
      );
    } finally {
      await t1.query('ROLLBACK').catch(() => undefined);
      await t1.end();
    }
  });

  it(`lets a subscriber paging during ${CLIENTS} concurrent writers see every event exactly once`, async () => {
    const seen: RecordedEvent[] = [];
    let writing = true;
    const subscriber = (async () => {
      let after: Position | undefined;
      for (;;) {
        const done = !writing; // read the flag before the page: the last page then covers everything
        const page = await store.readAll({ after, limit: 37 });
        seen.push(...page.events);
        after = page.next;
        if (done && page.isEnd) return;
        if (page.isEnd) await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    const written: string[] = [];
    await inParallel(CLIENTS, CLIENTS, async (writer) => {
      for (let i = 0; i < 40; i++) {
        const ids = [streamId(`w-${writer}`), streamId(`shared-${i % 3}`)];
        const events = ids.map(() => ({ ...testEvent('Tick', { writer, i }), id: newEventId() }));
        await store.append(
          ids.map((id, n) => ({
            streamId: id,
            expected: ExpectedVersion.any,
            events: [events[n]!],
          })),
        );
        written.push(...events.map((e) => e.id));
      }
    });
    writing = false;
    await subscriber;
    const ids = seen.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(written));
    const positions = seen.map((e) => e.globalPosition);
    for (let i = 1; i < positions.length; i++)
      expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
  });

  it('shows each append of this store in readAll as soon as it returns, though its NOTIFY is sent after commit', async () => {
    let after: Position | undefined;
    const missing: string[] = [];
    for (let i = 0; i < 200; i++) {
      const appended = await store.append([
        {
          streamId: streamId(`visible-${i % 7}`),
          expected: ExpectedVersion.any,
          events: [testEvent('Visible', { i })],
        },
      ]);
      const log = await readLog(store, after);
      if (!log.some((e) => e.id === appended.events[0]!.id)) missing.push(appended.events[0]!.id);
      after = appended.position;
    }
    expect(missing).toEqual([]);
  });
});

// One store batches its own appends and never sends two on one stream at once, so the tests above
// exercise the server's locks only through commands of one process. Here several stores, each with
// its own pool (as separate processes would be), race on the same streams.
describeWithServer('PostgreSQL concurrency across several stores (server)', () => {
  const STORES = 6;
  let database: TestDatabase;
  let stores: PostgresEventStore[];
  let schemas = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  beforeEach(async () => {
    const schema = `across_${++schemas}`;
    stores = [];
    for (let i = 0; i < STORES; i++) {
      stores.push(
        await createPostgresEventStore({ connectionString: database.url, schema, poolSize: 4 }),
      );
    }
  });

  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  afterAll(async () => {
    await database?.drop();
  });

  it(`lets exactly one of ${STORES} stores win each race for a new stream`, async () => {
    for (let round = 0; round < 20; round++) {
      const id = streamId(`race-${round}`);
      const outcomes = await Promise.allSettled(
        stores.map((store) =>
          store.append([
            { streamId: id, expected: ExpectedVersion.noStream, events: [testEvent('First')] },
          ]),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected')
          expect(outcome.reason).toBeInstanceOf(ConcurrencyConflictError);
      }
    }
    expect((await stores[0]!.readStreams([streamId('race-0')])).events).toHaveLength(1);
  });

  it(`conserves money under random transfers from ${CLIENTS} clients over ${STORES} stores`, async () => {
    const executors = stores.map(
      (store) =>
        new CommandExecutor(store, {
          retry: { maxAttempts: 1000, initialDelayMs: 1, maxDelayMs: 20, timeoutMs: 120_000 },
        }),
    );
    const outcomes = await randomTransfers((i) => executors[i % STORES]!, 7);
    await expectMoneyConserved(stores[0]!, outcomes);
  }, 180_000);
});
