import fc from 'fast-check';
import { BusinessRuleViolationError, RetriesExhaustedError } from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { streamId } from '../store/stream-id';
import {
  accountStream,
  Deposit,
  OpenAccount,
  runningBalances,
  seed,
  SpyStore,
  TransferMoney,
  Withdraw,
} from './__fixtures__/bank.commands';
import { Command } from './command.decorators';
import { CommandExecutor } from './command-executor';
import { type StateSnapshot, StateCache, stateCacheKey } from './state-cache';
import type { Position } from '../store/event-store';

/** A command whose apply would depend on its fields, so it opts out of the cache. */
@Command({ name: 'UncachedDeposit', stateCache: false })
class UncachedDeposit extends Deposit {}

const ACC_1 = accountStream('1');

const cached = (store: SpyStore | InMemoryEventStore, maxEntries = 100) =>
  new CommandExecutor(store, { stateCache: { maxEntries }, sleep: async () => undefined });

async function balanceOf(store: InMemoryEventStore | SpyStore, account: string): Promise<number> {
  const { events } = await store.readStreams([streamId(account)]);
  return runningBalances(events).at(-1) ?? 0;
}

describe('CommandExecutor state cache', () => {
  it('skips the read for an uncontended command on a known boundary: one round trip', async () => {
    const store = new SpyStore();
    const executor = cached(store);
    await executor.execute(new OpenAccount(ACC_1, 'Ann'));
    await executor.execute(new Deposit(ACC_1, 10));
    store.reset();
    const result = await executor.execute(new Deposit(ACC_1, 5));
    expect(store.reads).toHaveLength(0);
    expect(store.appends).toHaveLength(1);
    expect(store.appends[0]![0]!.expected).toEqual({ kind: 'exact', version: 2 });
    expect(result.streamVersions).toEqual({ [ACC_1]: 3 });
    expect(await balanceOf(store, ACC_1)).toBe(15);
  });

  it('re-reads at once, without counting an attempt, when another writer made the entry stale', async () => {
    const store = new SpyStore();
    const executor = cached(store);
    await executor.execute(new OpenAccount(ACC_1, 'Ann'));
    await executor.execute(new Deposit(ACC_1, 10));
    await new CommandExecutor(store).execute(new Deposit(ACC_1, 100)); // another instance
    store.reset();
    const result = await executor.execute(new Deposit(ACC_1, 1));
    expect(result.attempts).toBe(1);
    expect(store.appends).toHaveLength(2); // the stale try (conflict) and the real one
    expect(store.reads).toHaveLength(1);
    expect(await balanceOf(store, ACC_1)).toBe(111);
  });

  it('skips an entry it knows is stale because another command of this executor wrote the stream', async () => {
    const store = new SpyStore();
    const executor = cached(store);
    await executor.execute(new OpenAccount(ACC_1, 'Ann'));
    await executor.execute(new Deposit(ACC_1, 10)); // caches Deposit's state at version 2
    await executor.execute(new Withdraw(ACC_1, 3)); // another command moves the account to version 3
    store.reset();
    await executor.execute(new Deposit(ACC_1, 1));
    expect(store.appends).toHaveLength(1); // no doomed append with the stale version
    expect(store.reads).toHaveLength(1);
    expect(await balanceOf(store, ACC_1)).toBe(8);
  });

  it('never rejects on a stale state: a rule violation is re-decided on a fresh read', async () => {
    const store = new SpyStore();
    const executor = cached(store);
    await executor.execute(new OpenAccount(ACC_1, 'Ann'));
    await executor.execute(new Withdraw(ACC_1, 1)).catch(() => undefined); // caches balance 0
    await new CommandExecutor(store).execute(new Deposit(ACC_1, 100));
    await expect(executor.execute(new Withdraw(ACC_1, 50))).resolves.toMatchObject({
      attempts: 1,
    });
    expect(await balanceOf(store, ACC_1)).toBe(50);
    // A real violation is still reported after the fresh read.
    await expect(executor.execute(new Withdraw(ACC_1, 500))).rejects.toBeInstanceOf(
      BusinessRuleViolationError,
    );
  });

  it('is bypassed with an idempotency key and for a command that opts out', async () => {
    const store = new SpyStore();
    const executor = cached(store);
    await executor.execute(new OpenAccount(ACC_1, 'Ann'));
    store.reset();
    await executor.execute(new Deposit(ACC_1, 1), { idempotencyKey: 'k1' });
    await executor.execute(new Deposit(ACC_1, 1), { idempotencyKey: 'k2' });
    expect(store.reads.length).toBeGreaterThanOrEqual(2);
    store.reset();
    await executor.execute(new UncachedDeposit(ACC_1, 1));
    await executor.execute(new UncachedDeposit(ACC_1, 1));
    expect(store.reads).toHaveLength(2);
  });

  it('serves a boundary in any order from one entry, writing the streams in the command’s order', async () => {
    const store = new SpyStore();
    const executor = cached(store);
    const [a, b] = [accountStream('a'), accountStream('b')];
    for (const id of [a, b]) await executor.execute(new OpenAccount(id, 'Ann'));
    await executor.execute(new Deposit(a, 10));
    await executor.execute(new TransferMoney(a, b, 4)); // reads a and b, caches the pair
    store.reset();
    const back = await executor.execute(new TransferMoney(b, a, 1));
    expect(store.reads).toHaveLength(0);
    expect(store.appends).toHaveLength(1);
    expect(store.appends[0]!.map((w) => [w.streamId, w.expected])).toEqual([
      [b, { kind: 'exact', version: 2 }],
      [a, { kind: 'exact', version: 3 }],
    ]);
    expect(back.events.map((e) => [e.streamId, e.type])).toEqual([
      [b, 'MoneyTransferredOut'],
      [a, 'MoneyTransferredIn'],
    ]);
    // And the entry it left serves the first order again.
    store.reset();
    await executor.execute(new TransferMoney(a, b, 2));
    expect(store.reads).toHaveLength(0);
    expect(await balanceOf(store, a)).toBe(5);
    expect(await balanceOf(store, b)).toBe(5);
  });

  it('evicts the least recently used boundary beyond maxEntries', async () => {
    const store = new SpyStore();
    const executor = cached(store, 2);
    const [a, b, c] = [accountStream('a'), accountStream('b'), accountStream('c')];
    for (const id of [a, b, c]) await executor.execute(new OpenAccount(id, 'Ann'));
    store.reset();
    await executor.execute(new Deposit(a, 1)); // Deposit entries: a
    await executor.execute(new Deposit(b, 1)); // a, b
    await executor.execute(new Deposit(c, 1)); // b, c (a evicted)
    store.reset();
    await executor.execute(new Deposit(c, 1));
    await executor.execute(new Deposit(a, 1));
    expect(store.reads.map((r) => r[0])).toEqual([a]);
  });

  it('refuses an invalid maxEntries', () => {
    expect(
      () => new CommandExecutor(new InMemoryEventStore(), { stateCache: { maxEntries: 0 } }),
    ).toThrow(/stateCache.maxEntries/);
  });

  it('keeps money conserved when cached and uncached executors race on the same accounts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 3 }),
            fc.integer({ min: 0, max: 3 }),
            fc.integer({ min: 1, max: 60 }),
            fc.boolean(),
          ),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        async (transfers) => {
          const store = new InMemoryEventStore();
          const a = cached(store);
          const b = new CommandExecutor(store, { sleep: async () => undefined });
          const accounts = ['w', 'x', 'y', 'z'].map(accountStream);
          for (const id of accounts) {
            await seed(
              store,
              id,
              { type: 'AccountOpened', data: { owner: id } },
              { type: 'MoneyDeposited', data: { amount: 100 } },
            );
          }
          await Promise.all(
            transfers.map(async ([from, to, amount, useCache]) => {
              if (from === to) return;
              const executor = useCache ? a : b;
              await executor
                .execute(new TransferMoney(accounts[from]!, accounts[to]!, amount))
                .catch((error: unknown) => {
                  if (!(
                    error instanceof BusinessRuleViolationError ||
                    error instanceof RetriesExhaustedError
                  ))
                    throw error;
                });
            }),
          );
          const balances = await Promise.all(accounts.map((id) => balanceOf(store, id)));
          expect(balances.reduce((x, y) => x + y, 0)).toBe(400);
          for (const id of accounts) {
            const { events } = await store.readStreams([streamId(id)]);
            expect(runningBalances(events).every((balance) => balance >= 0)).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('StateCache', () => {
  const [A, B] = [streamId('a'), streamId('b')];
  const classOne = {};
  const classTwo = {};
  const snapshot = (owner: object, versions: number[], boundary = [A]): StateSnapshot => ({
    owner,
    state: versions,
    boundary,
    versions,
    position: '0' as Position,
  });

  it('keeps one entry per class and boundary, and evicts the one written least recently', () => {
    const cache = new StateCache(3);
    const one = snapshot(classOne, [1]);
    const two = snapshot(classTwo, [1]);
    const pair = snapshot(classOne, [1, 1], [A, B]);
    cache.set(stateCacheKey([A]), one);
    cache.set(stateCacheKey([A]), two);
    cache.set(stateCacheKey([A, B]), pair);
    expect(cache.get(classOne, stateCacheKey([A]))).toBe(one);
    expect(cache.get(classTwo, stateCacheKey([A]))).toBe(two);
    expect(cache.get(classOne, stateCacheKey([A, B]))).toBe(pair);
    expect(cache.get(classTwo, stateCacheKey([A, B]))).toBeUndefined();

    const newer = snapshot(classOne, [2]);
    cache.set(stateCacheKey([A]), newer); // replaces `one`, now the most recent
    cache.set(stateCacheKey([B]), snapshot(classTwo, [1], [B])); // evicts `two`
    expect(cache.size).toBe(3);
    expect(cache.get(classTwo, stateCacheKey([A]))).toBeUndefined();
    expect(cache.get(classOne, stateCacheKey([A]))).toBe(newer);

    cache.delete(classOne, stateCacheKey([A]));
    expect(cache.get(classOne, stateCacheKey([A]))).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('drops an entry older than a version observed since', () => {
    const cache = new StateCache(10);
    cache.set(stateCacheKey([A, B]), snapshot(classOne, [1, 1], [A, B]));
    cache.observe(new Map([[B, 1]]));
    expect(cache.get(classOne, stateCacheKey([A, B]))).toBeDefined();
    cache.observe(new Map([[B, 2]]));
    expect(cache.get(classOne, stateCacheKey([A, B]))).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
