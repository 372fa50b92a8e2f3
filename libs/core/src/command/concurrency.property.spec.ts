/**
 * Property tests of the consistency contract under real concurrency: commands run at the same time
 * against the real InMemoryEventStore, and fast-check's scheduler decides the order in which their
 * store calls (and backoff waits) happen, so that many interleavings are explored and a failing one
 * is shrunk and replayable.
 */
import fc from 'fast-check';
import type { RecordedEvent } from '../events/event';
import {
  BusinessRuleViolationError,
  ConcurrencyConflictError,
  RetriesExhaustedError,
} from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import type { EventStore } from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import type { StreamId } from '../store/stream-id';
import {
  accountStream,
  Deposit,
  runningBalances,
  seed,
  toAppend,
  TransferMoney,
} from './__fixtures__/bank.commands';
import { CommandExecutor } from './command-executor';
import { scheduledStore } from '../testing/state-cache.differential';

const NUM_RUNS = 50;
const ACCOUNTS = ['0', '1', '2', '3', '4'].map(accountStream);
const ACC_0 = ACCOUNTS[0]!;

async function streamEvents(store: EventStore, id: string): Promise<readonly RecordedEvent[]> {
  return (await store.readStreams([id as StreamId])).events;
}

function executorOn(s: fc.Scheduler, store: EventStore): CommandExecutor {
  return new CommandExecutor(store, {
    random: () => 0.5,
    // Backoff waits are scheduled too: a retry may be overtaken by anything else.
    sleep: () => s.schedule(Promise.resolve(), 'backoff'),
  });
}

describe('concurrency properties (fast-check scheduler over the in-memory store)', () => {
  it('(a) concurrent transfers conserve the total and never overdraw an account', async () => {
    const transfer = fc.record({
      from: fc.nat(ACCOUNTS.length - 1),
      to: fc.nat(ACCOUNTS.length - 1),
      amount: fc.integer({ min: 1, max: 120 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.nat(100), { minLength: ACCOUNTS.length, maxLength: ACCOUNTS.length }),
        fc.array(transfer, { minLength: 1, maxLength: 8 }),
        async (s, initial, transfers) => {
          const inner = new InMemoryEventStore();
          for (const [i, account] of ACCOUNTS.entries()) {
            await seed(inner, account, { type: 'AccountOpened', data: { owner: account } });
            if (initial[i]! > 0)
              await seed(inner, account, { type: 'MoneyDeposited', data: { amount: initial[i] } });
          }
          const executor = executorOn(s, scheduledStore(s, inner));

          const outcomes = await s.waitFor(
            Promise.allSettled(
              transfers.map((t) =>
                executor.execute(new TransferMoney(ACCOUNTS[t.from]!, ACCOUNTS[t.to]!, t.amount)),
              ),
            ),
          );

          for (const outcome of outcomes) {
            if (outcome.status === 'rejected') {
              const allowed =
                outcome.reason instanceof BusinessRuleViolationError ||
                outcome.reason instanceof RetriesExhaustedError;
              expect({ allowed, reason: String(outcome.reason) }).toEqual({
                allowed: true,
                reason: expect.any(String),
              });
            }
          }
          let total = 0;
          for (const account of ACCOUNTS) {
            const balances = runningBalances(await streamEvents(inner, account));
            expect(balances.filter((b) => b < 0)).toEqual([]);
            total += balances.at(-1) ?? 0;
          }
          expect(total).toBe(initial.reduce((a, b) => a + b, 0));
          // Every successful transfer wrote exactly its two events, and no failed one wrote any.
          const succeeded = outcomes.filter((o) => o.status === 'fulfilled').length;
          const written = (await inner.readAll({ limit: 10_000 })).events.filter(
            (e) => e.metadata.correlationId !== 'seed',
          );
          expect(written).toHaveLength(2 * succeeded);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('(b) among K concurrent appends expecting the same version, exactly one wins', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 2, max: 6 }),
        fc.nat(3),
        async (s, k, prior) => {
          const inner = new InMemoryEventStore();
          for (let i = 0; i < prior; i++)
            await seed(inner, 'contended', { type: 'Before', data: { i } });
          const store = scheduledStore(s, inner);

          const outcomes = await s.waitFor(
            Promise.allSettled(
              Array.from({ length: k }, (_, i) =>
                store.append([
                  {
                    streamId: 'contended' as StreamId,
                    expected: ExpectedVersion.exact(prior),
                    events: [toAppend({ type: 'Contender', data: { i } })],
                  },
                ]),
              ),
            ),
          );

          expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
          for (const outcome of outcomes) {
            if (outcome.status === 'rejected') {
              expect(outcome.reason).toBeInstanceOf(ConcurrencyConflictError);
              expect((outcome.reason as ConcurrencyConflictError).conflicts).toEqual([
                {
                  streamId: 'contended',
                  expected: ExpectedVersion.exact(prior),
                  actual: prior + 1,
                },
              ]);
            }
          }
          expect(
            (await inner.readStreams(['contended' as StreamId])).versions.get(
              'contended' as StreamId,
            ),
          ).toBe(prior + 1);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('(b) among K concurrent commands that read the same version, at most one wins', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 2, maxLength: 6 }),
        async (s, amounts) => {
          const inner = new InMemoryEventStore();
          await seed(inner, ACC_0, { type: 'AccountOpened', data: { owner: 'x' } });
          // Which expected version of the account each append held, and whether it won.
          const log: { expected: number; won: boolean }[] = [];
          const store = scheduledStore(s, inner, (writes, won) => {
            const expected = writes.find((w) => w.streamId === ACC_0)!.expected;
            log.push({ expected: expected.kind === 'exact' ? expected.version : -1, won });
          });
          const executor = executorOn(s, store);

          const outcomes = await s.waitFor(
            Promise.allSettled(
              amounts.map((amount) =>
                // No retry: every command makes exactly one attempt.
                executor.execute(new Deposit(ACC_0, amount), { retry: { maxAttempts: 1 } }),
              ),
            ),
          );

          expect(log).toHaveLength(amounts.length);
          expect(log.every((entry) => entry.expected >= 1)).toBe(true);
          const winnersByVersion = new Map<number, number>();
          for (const entry of log.filter((e) => e.won)) {
            winnersByVersion.set(entry.expected, (winnersByVersion.get(entry.expected) ?? 0) + 1);
          }
          expect([...winnersByVersion.values()].filter((n) => n > 1)).toEqual([]);

          let deposited = 0;
          for (const [i, outcome] of outcomes.entries()) {
            if (outcome.status === 'fulfilled') {
              expect(outcome.value.attempts).toBe(1);
              deposited += amounts[i]!;
            } else {
              expect(outcome.reason).toBeInstanceOf(RetriesExhaustedError);
              expect((outcome.reason as RetriesExhaustedError).attempts).toBe(1);
            }
          }
          const events = await streamEvents(inner, ACC_0);
          expect(events).toHaveLength(1 + log.filter((e) => e.won).length);
          expect(runningBalances(events).at(-1)).toBe(deposited);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('concurrent executions with the same idempotency key write once, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 5 }), async (s, k) => {
        const inner = new InMemoryEventStore();
        await seed(inner, ACC_0, { type: 'AccountOpened', data: { owner: 'x' } });
        const executor = executorOn(s, scheduledStore(s, inner));

        const results = await s.waitFor(
          Promise.all(
            Array.from({ length: k }, () =>
              executor.execute(new Deposit(ACC_0, 10), { idempotencyKey: 'same-request' }),
            ),
          ),
        );

        const deposits = (await streamEvents(inner, ACC_0)).filter(
          (e) => e.type === 'MoneyDeposited',
        );
        expect(deposits).toHaveLength(1);
        expect(results.filter((r) => !r.replayed)).toHaveLength(1);
        expect(new Set(results.map((r) => r.commandId)).size).toBe(1);
        for (const result of results) expect(result.events).toEqual(deposits);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
