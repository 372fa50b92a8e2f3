import { ExpectedVersion, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { BatchRow } from './append-batcher';
import type { SqlExecutor, SqlQueryable } from './executor/sql-executor';
import { PostgresEventStore } from './postgres.event-store';

/** Answers every append as written at the next position; records the NOTIFYs. */
class NotifyingDatabase implements SqlExecutor {
  position = 0;
  readonly notified: string[] = [];

  async query<R>(): Promise<R[]> {
    const row: BatchRow = {
      r_failed: [],
      r_archived: [],
      r_versions: ['0'],
      r_first_position: String(++this.position),
      r_tx: '100',
      r_recorded_at: '2026-01-01T00:00:00.000Z',
      r_head_position: null,
    };
    return [row as R];
  }
  async notify(_channel: string, payload: string): Promise<void> {
    this.notified.push(payload);
  }
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
    return work(this);
  }
  stats() {
    return { total: 1, idle: 1, waiting: 0 };
  }
  async close(): Promise<void> {}
}

function setup() {
  const db = new NotifyingDatabase();
  let now = 1_000;
  const sleeps: { ms: number; wake: () => void }[] = [];
  const store = new PostgresEventStore(db, {
    clock: { now: () => new Date(now) },
    sleep: (ms) => new Promise<void>((wake) => sleeps.push({ ms, wake })),
  });
  const append = () =>
    store.append([
      { streamId: streamId('a'), expected: ExpectedVersion.any, events: [testEvent('E')] },
    ]);
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { db, store, sleeps, append, settle, advance: (ms: number) => (now += ms) };
}

describe('PostgresEventStore NOTIFY after commit (fake database)', () => {
  it('sends a NOTIFY at once after a quiet period', async () => {
    const { db, append, settle, sleeps } = setup();
    await append();
    await settle();
    expect(db.notified).toHaveLength(1);
    expect(sleeps).toHaveLength(0);
  });

  it('waits 5 ms from the previous NOTIFY, then sends one for every append of the gap', async () => {
    const { db, store, append, settle, sleeps, advance } = setup();
    await append();
    await settle();
    advance(1);
    const second = await append();
    const third = await append();
    await settle();
    expect(db.notified).toHaveLength(1); // the gap: no NOTIFY transaction yet
    expect(sleeps.map((s) => s.ms)).toEqual([4]);
    advance(4);
    sleeps[0]!.wake();
    await settle();
    expect(db.notified).toHaveLength(2);
    expect(db.notified[1]).toBe(third.position);
    expect(store.comparePositions(third.position, second.position)).toBeGreaterThan(0);
  });

  it('does not wait when the previous NOTIFY started 5 ms ago or more', async () => {
    const { db, append, settle, sleeps, advance } = setup();
    await append();
    await settle();
    advance(5);
    await append();
    await settle();
    expect(db.notified).toHaveLength(2);
    expect(sleeps).toHaveLength(0);
  });
});
