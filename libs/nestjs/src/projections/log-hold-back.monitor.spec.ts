import { Logger } from '@nestjs/common';
import {
  InMemoryEventStore,
  InvalidOptionsError,
  type OldestWriteTransaction,
} from '@eventcore/core';
import type { EventCoreModuleOptions } from '../eventcore-module.options';
import { LogHoldBackMonitor } from './log-hold-back.monitor';

/** An in-memory store that answers the hold-back it is told to (as the PostgreSQL store would). */
class HeldBackStore extends InMemoryEventStore {
  heldBackSeconds = 0;
  blocking: OldestWriteTransaction = { known: true, transaction: null };
  failing = false;
  calls = 0;

  async logHoldBack() {
    this.calls++;
    if (this.failing) throw new Error('database unreachable');
    return { heldBackSeconds: this.heldBackSeconds, blocking: this.blocking };
  }
}

const idleTransaction: OldestWriteTransaction = {
  known: true,
  transaction: {
    pid: 4242,
    database: 'billing',
    applicationName: 'psql',
    state: 'idle in transaction',
    ageSeconds: 95,
    queryStart: '2025-01-01T00:00:00.000Z',
  },
};

describe('LogHoldBackMonitor', () => {
  let warnings: string[];
  let logs: string[];

  beforeEach(() => {
    warnings = [];
    logs = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    jest.spyOn(Logger.prototype, 'log').mockImplementation((message: unknown) => {
      logs.push(String(message));
    });
  });

  afterEach(() => jest.restoreAllMocks());

  const monitor = (store: InMemoryEventStore, options: EventCoreModuleOptions = {}) =>
    new LogHoldBackMonitor(store, {
      ...options,
      projections: { heldBack: { warnAfterSeconds: 30 }, ...options.projections },
    });

  it('warns once per episode, naming the blocking transaction, and once when it ends', async () => {
    const store = new HeldBackStore();
    const watch = monitor(store);
    await watch.check();
    store.blocking = idleTransaction;
    store.heldBackSeconds = 12; // below the threshold: not yet a stall
    await watch.check();
    expect(warnings).toEqual([]);

    for (const seconds of [31, 36, 41, 46]) {
      store.heldBackSeconds = seconds;
      await watch.check();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('waited 31 s');
    expect(warnings[0]).toContain(
      'pid 4242 in database "billing" (application "psql", idle in transaction, open 95 s)',
    );
    expect(warnings[0]).toContain('idle_in_transaction_session_timeout');
    expect(watch.latest()).toMatchObject({ heldBackSeconds: 46, blocking: idleTransaction });

    store.heldBackSeconds = 0;
    store.blocking = { known: true, transaction: null };
    await watch.check();
    await watch.check();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(
      /^Subscribers are no longer held back \(the stall lasted about \d+ s\)/,
    );

    // A new stall is a new episode.
    store.heldBackSeconds = 40;
    store.blocking = idleTransaction;
    await watch.check();
    expect(warnings).toHaveLength(2);
  });

  it('says the blocking transaction is unknown, never 0 s, when the store cannot see it', async () => {
    const store = new HeldBackStore();
    store.heldBackSeconds = 45;
    store.blocking = { known: false, reason: 'grant it pg_monitor' };
    const watch = monitor(store);
    await watch.check();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      'waited 45 s behind an open write transaction this role cannot see (grant it pg_monitor)',
    );
    expect(warnings[0]).not.toMatch(/\b0(\.0)? s\b/);
  });

  it('forgets its answer when the store fails, and asks one question at a time', async () => {
    const store = new HeldBackStore();
    store.heldBackSeconds = 3;
    const watch = monitor(store);
    await Promise.all([watch.check(), watch.check(), watch.check()]);
    expect(store.calls).toBe(1);
    expect(watch.latest()?.heldBackSeconds).toBe(3);
    store.failing = true;
    await watch.check();
    expect(watch.latest()).toBeUndefined();
  });

  it('checks every checkIntervalMs once started, and stops', async () => {
    const store = new HeldBackStore();
    const watch = new LogHoldBackMonitor(store, {
      projections: { heldBack: { checkIntervalMs: 100 } },
    });
    watch.start();
    await new Promise((resolve) => setTimeout(resolve, 350));
    await watch.stop();
    const calls = store.calls;
    expect(calls).toBeGreaterThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(store.calls).toBe(calls);
  });

  it('does nothing for a store that cannot tell, or when turned off', async () => {
    expect(new LogHoldBackMonitor(new InMemoryEventStore(), {}).enabled).toBe(false);
    const store = new HeldBackStore();
    const off = new LogHoldBackMonitor(store, { projections: { heldBack: false } });
    expect(off.enabled).toBe(false);
    off.start();
    await off.check();
    await off.stop();
    expect(store.calls).toBe(0);
    expect(off.latest()).toBeUndefined();
  });

  it('refuses bad options at startup', () => {
    const store = new HeldBackStore();
    expect(
      () => new LogHoldBackMonitor(store, { projections: { heldBack: { warnAfterSeconds: -1 } } }),
    ).toThrow(InvalidOptionsError);
    expect(
      () => new LogHoldBackMonitor(store, { projections: { heldBack: { checkIntervalMs: 5 } } }),
    ).toThrow(/projections\.heldBack\.checkIntervalMs/);
  });
});
