import 'reflect-metadata';
import {
  CommandExecutor,
  type CommandLogic,
  type EventToAppend,
  ExpectedVersion,
  InMemoryEventStore,
  streamId,
} from '@eventcore/core';
import type { BankEvent } from '../apps/bank/src/accounts/bank.events';
import {
  accountStream,
  bankEvent,
  Deposit,
  openAccounts,
  TransferMoney,
  UnvalidatedDeposit,
} from './accounts';
import { runConcurrently, type Scenario } from './harness';

const ACCOUNTS = 1_000;
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => accountStream(String(i)));

const deposited = (amount: number) => bankEvent({ type: 'MoneyDeposited', data: { amount } });

/**
 * Commands against the in-memory store: one stream per account, as a real app would have. The
 * accounts are opened, with `balance` each, before the first run (not measured).
 */
function commandScenario(
  name: string,
  make: (i: number) => CommandLogic<unknown, BankEvent>,
  balance = 0,
): Scenario {
  let executor: CommandExecutor | undefined;
  return {
    name,
    unit: 'commands/s',
    concurrency: 1,
    async setup() {
      const store = new InMemoryEventStore();
      await openAccounts(store, accounts, balance);
      executor = new CommandExecutor(store, { stateCache: { maxEntries: 10_000 } });
    },
    async run(quick) {
      const n = quick ? 5_000 : 50_000;
      for (let i = 0; i < n; i++) await executor!.execute(make(i));
      return n;
    },
    async teardown() {
      executor = undefined; // let its store go: later scenarios should not run on a bigger heap
    },
  };
}

/** The in-memory scenarios of `npm run bench`. */
export function memoryScenarios(): Scenario[] {
  return [
    commandScenario('memory.command.single', (i) => new Deposit(accounts[i % ACCOUNTS]!, 1)),
    commandScenario(
      'memory.command.single_unvalidated',
      (i) => new UnvalidatedDeposit(accounts[i % ACCOUNTS]!, 1),
    ),
    // Pairs (i, i + 1): each transfer moves a stream of the pair cached before it, so no cached
    // boundary is ever current; every transfer reads both streams, which grow with every run.
    // The worst case of a state cache keyed by boundary, kept apart from the realistic one below.
    commandScenario(
      'memory.command.transfer.adjacent_pairs',
      (i) => new TransferMoney(accounts[i % ACCOUNTS]!, accounts[(i + 1) % ACCOUNTS]!, 1),
      // Account 0 gives 1 before it first receives 1: each account starts with funds.
      1_000,
    ),
    // 500 disjoint pairs (2k, 2k + 1), money going back and forth: a pair's boundary stays
    // cached, as for accounts that mostly trade with the same counterpart.
    commandScenario(
      'memory.command.transfer.disjoint_pairs',
      (i) => {
        const pair = i % (ACCOUNTS / 2);
        const [a, b] = [accounts[2 * pair]!, accounts[2 * pair + 1]!];
        return Math.floor(i / (ACCOUNTS / 2)) % 2 === 0
          ? new TransferMoney(a, b, 1)
          : new TransferMoney(b, a, 1);
      },
      1_000,
    ),
    (() => {
      let store: InMemoryEventStore | undefined;
      let batch = 0;
      let batches: EventToAppend[][] = [];
      return {
        name: 'memory.append.batch1000',
        unit: 'events/s',
        concurrency: 1,
        async setup() {
          store = new InMemoryEventStore();
        },
        async prepare() {
          // The events are built before the timed run (ids, times, data): the figure is the
          // store's, not the cost of making input (about 1.2 µs an event, more than the append).
          batches = Array.from({ length: 200 }, () =>
            Array.from({ length: 1_000 }, (_, i) => deposited(i + 1)),
          );
        },
        async run(quick: boolean) {
          const count = quick ? 20 : 200;
          for (let b = 0; b < count; b++) {
            await store!.append([
              {
                streamId: streamId(`batch-${batch++}`),
                expected: ExpectedVersion.noStream,
                events: batches[b]!,
              },
            ]);
          }
          return count * 1_000;
        },
        async teardown() {
          store = undefined;
          batches = [];
        },
      } satisfies Scenario;
    })(),
    (() => {
      const store = new InMemoryEventStore();
      const stream = accountStream('long-stream');
      return {
        name: 'memory.fold.100k',
        unit: 'events/s',
        concurrency: 1,
        async setup() {
          await openAccounts(store, [stream], 0);
          for (let b = 0; b < 100; b++) {
            const events = Array.from({ length: 1_000 }, (_, i) => deposited(i + 1));
            await store.append([{ streamId: stream, expected: ExpectedVersion.any, events }]);
          }
        },
        async run(quick: boolean) {
          const reads = quick ? 3 : 20;
          let total = 0;
          for (let r = 0; r < reads; r++) {
            const { events } = await store.readStreams([stream]);
            // A minimal fold, as in pg.fold.100k: the figure is the store's read and the loop, not
            // the cost of a domain's evolve function (the bank's allocates a state per event).
            let balance = 0;
            for (const e of events) {
              if (e.type === 'MoneyDeposited') balance += (e.data as { amount: number }).amount;
            }
            if (balance <= 0) throw new Error('fold went wrong');
            total += events.length;
          }
          return total;
        },
      } satisfies Scenario;
    })(),
  ];
}

export { runConcurrently };
