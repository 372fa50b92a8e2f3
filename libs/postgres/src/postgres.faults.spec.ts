import {
  ConcurrencyConflictError,
  ExpectedVersion,
  InvalidOptionsError,
  StoreUnavailableError,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { PostgresEventStore } from './postgres.event-store';
import { type SqlExecutor, SqlConnectionError, type SqlQueryable } from './executor/sql-executor';

/** A database that can be switched off; counts the calls that reached it. */
class FakeDatabase implements SqlExecutor {
  down = false;
  failPhase: 'connect' | 'query' = 'connect';
  calls = 0;
  rows: Record<string, unknown>[] = [{ '?column?': 1 }];

  async query<R>(): Promise<R[]> {
    this.calls++;
    if (this.down)
      throw new SqlConnectionError('connect ECONNREFUSED 127.0.0.1:5432', this.failPhase);
    return this.rows as R[];
  }
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return work(this);
  }
  stats() {
    return { total: 1, idle: 1, waiting: 0 };
  }
  async close(): Promise<void> {}
}

function setup(retryAttempts = 1) {
  const db = new FakeDatabase();
  let now = 0;
  const sleeps: number[] = [];
  const store = new PostgresEventStore(db, {
    retry: { maxAttempts: retryAttempts, initialDelayMs: 100, maxDelayMs: 1000 },
    circuitBreaker: { failureThreshold: 3, cooldownMs: 5000 },
    clock: { now: () => new Date(now) },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
  return { db, store, sleeps, advance: (ms: number) => (now += ms) };
}

describe('PostgresEventStore connection faults (fake database)', () => {
  it('opens the circuit after consecutive connection failures, fails fast, then recovers through a trial call', async () => {
    const { db, store, advance } = setup();
    db.down = true;
    for (let i = 0; i < 3; i++)
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(db.calls).toBe(3);

    // Open: calls fail fast without touching the database.
    const fast = await store.ping().catch((e: unknown) => e);
    expect(fast).toBeInstanceOf(StoreUnavailableError);
    expect(fast).toMatchObject({
      code: 'eventcore.store_unavailable',
      circuitOpen: true,
      outcome: 'not-written',
    });
    expect(db.calls).toBe(3);

    // After the cooldown one trial goes through; still down, so the circuit opens again.
    advance(5000);
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(db.calls).toBe(4);
    await expect(store.ping()).rejects.toMatchObject({ circuitOpen: true });
    expect(db.calls).toBe(4);

    // The database is back: the next trial succeeds and the circuit closes.
    db.down = false;
    advance(5000);
    await expect(store.ping()).resolves.toBeUndefined();
    await expect(store.ping()).resolves.toBeUndefined();
    expect(db.calls).toBe(6);
    expect((await store.health()).circuit).toBe('closed');
  });

  it('retries a failed connection attempt and succeeds when the database answers again', async () => {
    const { db, store, sleeps } = setup(3);
    db.down = true;
    let calls = 0;
    const original = db.query.bind(db);
    db.query = async <R>() => {
      if (++calls === 2) db.down = false;
      return original<R>();
    };
    await expect(store.ping()).resolves.toBeUndefined();
    expect(db.calls).toBe(2);
    expect(sleeps).toHaveLength(1);
  });

  it('spaces connection retries by the shared retry options (backoffFactor, maxDelayMs, jitter)', async () => {
    const db = new FakeDatabase();
    const sleeps: number[] = [];
    const store = new PostgresEventStore(db, {
      retry: { maxAttempts: 4, initialDelayMs: 10, backoffFactor: 3, maxDelayMs: 50, jitter: 0 },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    db.down = true;
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(sleeps).toEqual([10, 30, 50]);
  });

  it('refuses a connection retry timeoutMs, which nothing would honour', () => {
    const db = new FakeDatabase();
    const refused = (() => {
      try {
        new PostgresEventStore(db, { retry: { timeoutMs: 1000 } as never });
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(InvalidOptionsError);
    expect((refused as InvalidOptionsError).message).toContain('retry.timeoutMs');
  });

  it('never retries an append whose connection broke in flight: the outcome is unknown', async () => {
    const { db, store } = setup(5);
    db.down = true;
    db.failPhase = 'query';
    const error = await store
      .append([
        { streamId: streamId('a'), expected: ExpectedVersion.any, events: [testEvent('E')] },
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toMatchObject({ outcome: 'unknown' });
    expect(db.calls).toBe(1);
  });

  it('retries an append that failed while connecting (it was never sent)', async () => {
    const { db, store } = setup(3);
    db.down = true;
    await expect(
      store.append([
        { streamId: streamId('a'), expected: ExpectedVersion.any, events: [testEvent('E')] },
      ]),
    ).rejects.toMatchObject({ outcome: 'not-written' });
    expect(db.calls).toBe(3);
  });

  it('never retries a conflict, and a conflict does not count as a connection failure', async () => {
    const { db, store } = setup(3);
    db.rows = [
      { r_failed: [1], r_archived: [], r_versions: ['2'], r_first_position: null, r_tx: null },
    ];
    for (let i = 0; i < 5; i++) {
      await expect(
        store.append([
          { streamId: streamId('a'), expected: ExpectedVersion.exact(1), events: [testEvent('E')] },
        ]),
      ).rejects.toBeInstanceOf(ConcurrencyConflictError);
    }
    expect(db.calls).toBe(5);
    expect((await store.health().catch(() => undefined))?.circuit ?? 'closed').toBe('closed');
  });

  it('refuses BigInt and cyclic data before anything reaches the database', async () => {
    const { db, store } = setup();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const data of [{ n: 1n }, cyclic]) {
      await expect(
        store.append([
          {
            streamId: streamId('a'),
            expected: ExpectedVersion.any,
            events: [testEvent('E', data)],
          },
        ]),
      ).rejects.toMatchObject({ code: 'eventcore.event_serialization' });
    }
    await expect(
      store.append([
        {
          streamId: streamId('a'),
          expected: ExpectedVersion.any,
          events: [testEvent('E', { s: 'nul \u0000' })],
        },
      ]),
    ).rejects.toMatchObject({ code: 'eventcore.unstorable_text' });
    expect(db.calls).toBe(0);
  });
});
