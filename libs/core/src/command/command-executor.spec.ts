/**
 * The executor's consistency contract (DESIGN.md §2), one rule per test. Each test is written so
 * that it fails when the rule it names is removed from the executor.
 */
import { IsInt, IsString, Min } from 'class-validator';
import type { DomainEvent, RecordedEvent } from '../events/event';
import {
  BusinessRuleViolationError,
  CommandTimeoutError,
  CommandValidationError,
  ConcurrencyConflictError,
  ErrorMessages,
  IdempotencyKeyReuseError,
  InvalidCommandError,
  InvalidOptionsError,
  InvalidStreamIdError,
  RetriesExhaustedError,
  StreamDiscoveryLimitError,
  UndeclaredStreamError,
} from '../errors';
import { ExpectedVersion } from '../store/expected-version';
import type { StreamWrite } from '../store/event-store';
import { type StreamId, streamId } from '../store/stream-id';
import {
  AnnotatedDeposit,
  accountStream,
  BANK_POLICY,
  BankRules,
  type BankEvent,
  Deposit,
  LimitedWithdraw,
  OpenAccount,
  PlaceOrder,
  PolicyRules,
  runningBalances,
  seed,
  SetWithdrawalLimit,
  ShopRules,
  SpyStore,
  TransferMoney,
  Withdraw,
} from './__fixtures__/bank.commands';
import type { Clock } from './clock';
import { Command, Stream } from './command.decorators';
import { CommandExecutor, type ExecutorOptions } from './command-executor';
import type { CommandContext, CommandLogic } from './command-logic';
import { IDEMPOTENCY_RECORD_TYPE } from './idempotency';
import type { RetryOptions } from './retry-options';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const ACC_1 = accountStream('1');
const ACC_2 = accountStream('2');
const ACC_3 = accountStream('3');

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function setup(options: ExecutorOptions = {}) {
  const store = new SpyStore();
  const sleeps: number[] = [];
  const executor = new CommandExecutor(store, {
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    ...options,
  });
  return { store, executor, sleeps };
}

/** An open account with `balance` (version 1, or 2 when the balance is positive). */
async function givenAccount(store: SpyStore, id: string, balance = 0): Promise<void> {
  await seed(store.inner, id, { type: 'AccountOpened', data: { owner: id } });
  if (balance > 0)
    await seed(store.inner, id, { type: 'MoneyDeposited', data: { amount: balance } });
}

async function eventsOf(store: SpyStore, id: string): Promise<readonly RecordedEvent[]> {
  return (await store.inner.readStreams([id as StreamId])).events;
}

async function balanceOf(store: SpyStore, id: string): Promise<number> {
  return runningBalances(await eventsOf(store, id)).at(-1) ?? 0;
}

/** Awaits a promise that must reject with `type`, and returns the error. */
async function rejection<T>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  let settled: { value: unknown } | undefined;
  try {
    settled = { value: await promise };
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as T;
  }
  throw new Error(`expected a ${type.name}, got ${JSON.stringify(settled.value)}`);
}

function expectNoIo(store: SpyStore): void {
  expect(store.reads).toEqual([]);
  expect(store.appends).toEqual([]);
}

/** The writes of one append, by stream id. */
function byStream(writes: readonly StreamWrite[] | undefined): Record<string, StreamWrite> {
  return Object.fromEntries((writes ?? []).map((w) => [w.streamId, w]));
}

/** A store hook that makes a competing deposit before each of the first `times` appends. */
function competingDeposits(store: SpyStore, account: string, times = Infinity) {
  return async (_writes: readonly StreamWrite[], call: number) => {
    if (call <= times)
      await seed(store.inner, account, { type: 'MoneyDeposited', data: { amount: 1 } });
  };
}

const exact = (version: number) => ExpectedVersion.exact(version);

// ---------------------------------------------------------------------------------------------
// Commands used by single tests
// ---------------------------------------------------------------------------------------------

/** Folds two streams and writes down the order in which it saw their events. */
@Command()
class ObserveOrder implements CommandLogic<string[]> {
  @Stream() a: StreamId;
  @Stream() b: StreamId;
  constructor(a: string, b: string) {
    this.a = a as StreamId;
    this.b = b as StreamId;
  }
  initialState(): string[] {
    return [];
  }
  apply(state: string[], event: RecordedEvent): string[] {
    return [...state, `${event.streamId}#${event.streamVersion}@${event.globalPosition}`];
  }
  handle(state: string[], ctx: CommandContext<DomainEvent, ObserveOrder>): void {
    ctx.emit('a', { type: 'Observed', data: { seen: state } });
  }
}

/** Writes nothing: a decision that only looks. */
@Command()
class Inspect implements CommandLogic<number> {
  @Stream() target: StreamId;
  constructor(target: string) {
    this.target = target as StreamId;
  }
  initialState(): number {
    return 0;
  }
  apply(state: number): number {
    return state + 1;
  }
  handle(): void {}
}

const boom = new Error('boom');

@Command()
class Explode implements CommandLogic<null> {
  @Stream() target: StreamId;
  constructor(target: string) {
    this.target = target as StreamId;
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(): void {
    throw boom;
  }
}

/** Deposits, then also writes to a stream it never declared. */
@Command()
class LeakyDeposit implements CommandLogic<null, BankEvent> {
  @Stream() account: StreamId;
  constructor(account: string) {
    this.account = account as StreamId;
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_state: null, ctx: CommandContext<BankEvent, LeakyDeposit>): void {
    ctx.emit('account', { type: 'MoneyDeposited', data: { amount: 1 } });
    ctx.emitTo(streamId('acc-elsewhere'), { type: 'MoneyDeposited', data: { amount: 1 } });
  }
}

/** `archive` holds a stream id but is not a `@Stream()` property: not part of the boundary. */
@Command()
class MirroredDeposit implements CommandLogic<null, BankEvent> {
  @Stream() account: StreamId;
  @IsString() archive: StreamId;
  constructor(account: string, archive: string) {
    this.account = account as StreamId;
    this.archive = archive as StreamId;
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_state: null, ctx: CommandContext<BankEvent, MirroredDeposit>): void {
    ctx.emit('account', { type: 'MoneyDeposited', data: { amount: 1 } });
    ctx.emit('archive', { type: 'MoneyDeposited', data: { amount: 1 } });
  }
}

/** An array `@Stream()` property: pays a bonus to each account. */
@Command()
class PayBonus implements CommandLogic<null, BankEvent> {
  @Stream() accounts: StreamId[];
  @IsInt() @Min(1) amount: number;
  constructor(accounts: string[], amount: number) {
    this.accounts = accounts as StreamId[];
    this.amount = amount;
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_state: null, ctx: CommandContext<BankEvent, PayBonus>): void {
    for (const account of this.accounts) {
      ctx.emitTo(account, { type: 'MoneyDeposited', data: { amount: this.amount } });
    }
  }
}

/** Emits through `emit` on its array property, which names several streams. */
@Command()
class PayBonusWrongly extends PayBonus {
  override handle(_state: null, ctx: CommandContext<BankEvent, PayBonus>): void {
    ctx.emit('accounts' as never, { type: 'MoneyDeposited', data: { amount: this.amount } });
  }
}

/** Discovers `probe-1` … `probe-depth`, one stream per round, then writes to the last one. */
@Command()
class Explorer implements CommandLogic<number> {
  @Stream() start: StreamId;
  @IsInt() @Min(0) depth: number;
  constructor(start: string, depth: number) {
    this.start = start as StreamId;
    this.depth = depth;
  }
  initialState(): number {
    return 0;
  }
  apply(state: number): number {
    return state + 1;
  }
  handle(_state: number, ctx: CommandContext<DomainEvent, Explorer>): void {
    ctx.discover(this.start); // already in the boundary: no new round
    for (let i = 1; i <= this.depth; i++) ctx.discover(streamId(`probe-${i}`));
    ctx.emitTo(this.depth === 0 ? this.start : streamId(`probe-${this.depth}`), {
      type: 'Explored',
      data: { boundary: ctx.boundary },
    });
  }
}

@Command({ maxDiscoveryIterations: 2 })
class ShallowExplorer extends Explorer {}

/** Discovers `count` streams at once (one of them twice), then emits to `target`. */
@Command({ validate: false })
class Fanout implements CommandLogic<null> {
  @Stream() start: StreamId;
  constructor(
    start: string,
    readonly count: number,
    readonly target: string,
  ) {
    this.start = start as StreamId;
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_state: null, ctx: CommandContext<DomainEvent, Fanout>): void {
    const ids = Array.from({ length: this.count }, (_, i) => streamId(`fan-${i}`));
    ctx.discover(...ids, ids[0]!);
    ctx.emitTo(this.target as StreamId, { type: 'Reached', data: {} });
  }
}

/** Asks for a new stream in every decision. */
@Command()
class Wanderer implements CommandLogic<null> {
  @Stream() start: StreamId;
  constructor(start: string) {
    this.start = start as StreamId;
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_state: null, ctx: CommandContext<DomainEvent, Wanderer>): void {
    ctx.discover(streamId(`elsewhere-${ctx.boundary.length}`));
  }
}

/** Emits two events, one with per-event custom metadata, carrying the context's time and an id. */
@Command()
class Stamp implements CommandLogic<null> {
  @Stream() target: StreamId;
  @Stream() other: StreamId;
  constructor(target: string, other: string) {
    this.target = target as StreamId;
    this.other = other as StreamId;
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_state: null, ctx: CommandContext<DomainEvent, Stamp>): void {
    ctx.emit(
      'target',
      { type: 'Stamped', data: { at: ctx.now.toISOString(), ref: ctx.newId() } },
      { channel: 'atm', tenant: 'per-event' },
    );
    ctx.emit('other', { type: 'Stamped', data: { at: ctx.now.toISOString(), ref: ctx.newId() } });
  }
}

@Command()
class AsyncDeposit implements CommandLogic<null, BankEvent> {
  @Stream() account: StreamId;
  constructor(account: string) {
    this.account = account as StreamId;
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  // Deliberately wrong: a decision must be synchronous.
  handle(_state: null, ctx: CommandContext<BankEvent, AsyncDeposit>): void {
    ctx.emit('account', { type: 'MoneyDeposited', data: { amount: 1 } });
    return Promise.resolve() as unknown as void;
  }
}

@Command({ validate: false })
class UncheckedDeposit extends Deposit {}

@Command({ validate: true })
class CheckedDeposit extends Deposit {}

@Command({ retry: { maxAttempts: 2, initialDelayMs: 10 } })
class ImpatientDeposit extends Deposit {}

// Compile-time rules: `emit` only accepts the names of properties holding one StreamId.
function _emitTypeChecks(ctx: CommandContext<BankEvent, TransferMoney>): void {
  ctx.emit('from', { type: 'MoneyWithdrawn', data: { amount: 1 } });
  // @ts-expect-error `amount` is not a stream property
  ctx.emit('amount', { type: 'MoneyWithdrawn', data: { amount: 1 } });
  // @ts-expect-error `nowhere` is not a property at all
  ctx.emit('nowhere', { type: 'MoneyWithdrawn', data: { amount: 1 } });
  // @ts-expect-error the event must belong to the command's event union
  ctx.emit('to', { type: 'Stolen', data: {} });
}

// ---------------------------------------------------------------------------------------------
// 1. Validation
// ---------------------------------------------------------------------------------------------

describe('CommandExecutor', () => {
  describe('1. input validation (before any I/O)', () => {
    it('lists every failed property, not just the first, and reads or writes nothing', async () => {
      const { store, executor } = setup();
      const command = new AnnotatedDeposit(ACC_1, -5, { reference: 42 as unknown as string });

      const error = await rejection(executor.execute(command), CommandValidationError);

      expect(error.code).toBe('eventcore.command_validation');
      expect(error.commandName).toBe('AnnotatedDeposit');
      expect(error.failures.map((f) => f.property).sort()).toEqual(['amount', 'reference']);
      expect(error.failures.find((f) => f.property === 'amount')).toMatchObject({
        value: -5,
        constraints: { isPositive: expect.any(String) },
      });
      expect(error.failures.find((f) => f.property === 'reference')).toMatchObject({
        value: 42,
        constraints: { isString: expect.any(String) },
      });
      expect(error.message).toMatch(/amount \(.*\), reference \(|reference \(.*\), amount \(/);
      expectNoIo(store);
    });

    it('reports failures of nested objects with their dotted path', async () => {
      const { store, executor } = setup();
      const command = new PlaceOrder('order-1', [
        ['apple', 0],
        ['Not An Id', 1],
      ]);

      const error = await rejection(executor.execute(command), CommandValidationError);

      expect(error.failures.map((f) => f.property).sort()).toEqual([
        'lines.0.quantity',
        'lines.1.productId',
      ]);
      expectNoIo(store);
    });

    it('refuses a property the command does not declare (whitelist)', async () => {
      const { store, executor } = setup();
      const command = Object.assign(new Deposit(ACC_1, 5), { isAdmin: true });

      const error = await rejection(executor.execute(command), CommandValidationError);

      expect(error.failures).toEqual([
        expect.objectContaining({
          property: 'isAdmin',
          constraints: { whitelistValidation: expect.any(String) },
        }),
      ]);
      expectNoIo(store);
    });

    it.each([
      ['a glob character', 'acc*1'],
      ['leading whitespace', ' acc-1'],
      ['the reserved "$" prefix', '$idempotency-x'],
      ['an empty id', ''],
      ['an over-long id', 'a'.repeat(256)],
      ['a control character', 'acc\n1'],
      ['a number', 42],
    ])('refuses a @Stream property holding %s, listed with the other failures', async (_, bad) => {
      const { store, executor } = setup();
      const command = new Deposit(bad as StreamId, -1);

      const error = await rejection(executor.execute(command), CommandValidationError);

      expect(error.failures.map((f) => f.property).sort()).toEqual(['account', 'amount']);
      expect(error.failures.find((f) => f.property === 'account')?.constraints).toHaveProperty(
        'isStreamId',
      );
      expectNoIo(store);
    });

    it('checks every id of an array @Stream property', async () => {
      const { store, executor } = setup();

      const error = await rejection(
        executor.execute(new PayBonus([ACC_1, 'acc?2'], 5)),
        CommandValidationError,
      );

      expect(error.failures.map((f) => f.property)).toEqual(['accounts']);
      expectNoIo(store);
    });

    it('@Command({ validate: false }) skips class-validator', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);
      const command = Object.assign(new UncheckedDeposit(ACC_1, -5), { unknown: 'kept' });

      const result = await executor.execute(command);

      expect(result.events.map((e) => e.data)).toEqual([{ amount: -5 }]);
    });

    it('the executor option validate: false skips class-validator; @Command({ validate: true }) wins over it', async () => {
      const { store, executor } = setup({ validate: false });
      await givenAccount(store, ACC_1);

      const result = await executor.execute(new Deposit(ACC_1, 1.5));
      expect(result.events.map((e) => e.data)).toEqual([{ amount: 1.5 }]);

      store.reset();
      await rejection(executor.execute(new CheckedDeposit(ACC_1, 1.5)), CommandValidationError);
      expectNoIo(store);
    });

    it.each([
      ['a glob character', 'acc*1'],
      ['leading whitespace', ' acc-1'],
      ['trailing whitespace', 'acc-1 '],
      ['the reserved "$" prefix', '$system'],
      ['a number', 7],
    ])(
      'without validation, a @Stream property holding %s is still an InvalidStreamIdError before any I/O',
      async (_, bad) => {
        for (const { store, executor, command } of [
          { ...setup(), command: new UncheckedDeposit(bad as StreamId, 5) },
          { ...setup({ validate: false }), command: new Deposit(bad as StreamId, 5) },
        ]) {
          const error = await rejection(executor.execute(command), InvalidStreamIdError);
          expect(error.value).toBe(bad);
          expectNoIo(store);
        }
      },
    );
  });

  // -------------------------------------------------------------------------------------------
  // 2. Read, fold, append with exact expectations; the result
  // -------------------------------------------------------------------------------------------

  describe('2. reading the boundary and appending with exact expectations', () => {
    it('reads every stream of the boundary in one readStreams call', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);
      await givenAccount(store, ACC_2);

      await executor.execute(new TransferMoney(ACC_1, ACC_2, 30));

      expect(store.reads).toHaveLength(1);
      expect([...store.reads[0]!].sort()).toEqual([ACC_1, ACC_2]);
    });

    it('folds the events of all streams in global order, not stream by stream', async () => {
      const { store, executor } = setup();
      for (const stream of ['s-a', 's-b', 's-a', 's-b', 's-b']) {
        await seed(store.inner, stream, { type: 'Tick', data: {} });
      }

      const result = await executor.execute(new ObserveOrder('s-a', 's-b'));

      expect(result.events[0]?.data).toEqual({
        seen: ['s-a#1@1', 's-b#1@2', 's-a#2@3', 's-b#2@4', 's-b#3@5'],
      });
    });

    it('guards every stream of the boundary with its exact version, read-only ones included', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100); // version 2
      await seed(store.inner, BANK_POLICY, { type: 'WithdrawalLimitSet', data: { limit: 500 } });

      await executor.execute(new LimitedWithdraw(ACC_1, 30));

      expect(store.appends).toHaveLength(1);
      const writes = byStream(store.appends[0]);
      expect(Object.keys(writes).sort()).toEqual([ACC_1, 'bank-policy']);
      expect(writes[ACC_1]).toEqual({
        streamId: ACC_1,
        expected: exact(2),
        events: [expect.objectContaining({ type: 'MoneyWithdrawn', data: { amount: 30 } })],
      });
      expect(writes['bank-policy']).toEqual({
        streamId: 'bank-policy',
        expected: exact(1),
        events: [],
      });
    });

    it('guards a read-only stream that does not exist yet with exact version 0', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);

      await executor.execute(new LimitedWithdraw(ACC_1, 30, streamId('policy-missing')));

      const writes = byStream(store.appends[0]);
      expect(writes['policy-missing']).toEqual({
        streamId: 'policy-missing',
        expected: exact(0),
        events: [],
      });
      expect(writes[ACC_1]?.expected).toEqual(exact(2));
    });

    it('writes all the events of one decision in one atomic append', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);
      await givenAccount(store, ACC_2);

      await executor.execute(new TransferMoney(ACC_1, ACC_2, 30));

      expect(store.appends).toHaveLength(1);
      const writes = byStream(store.appends[0]);
      expect(writes[ACC_1]?.events.map((e) => e.type)).toEqual(['MoneyTransferredOut']);
      expect(writes[ACC_2]?.events.map((e) => e.type)).toEqual(['MoneyTransferredIn']);
    });

    it('returns the events written with versions and positions, every stream version, attempts and a position', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100); // positions 1, 2
      await seed(store.inner, BANK_POLICY, { type: 'WithdrawalLimitSet', data: { limit: 500 } }); // 3

      const result = await executor.execute(new LimitedWithdraw(ACC_1, 30));

      expect(result).toMatchObject({
        commandName: 'LimitedWithdraw',
        attempts: 1,
        replayed: false,
        streamVersions: { [ACC_1]: 3, 'bank-policy': 1 },
      });
      expect(result.commandId).toMatch(UUID_V7);
      expect(result.events).toEqual([
        expect.objectContaining({
          streamId: ACC_1,
          streamVersion: 3,
          globalPosition: 4,
          type: 'MoneyWithdrawn',
          data: { amount: 30 },
        }),
      ]);
      expect(result.events).toEqual(await eventsOf(store, ACC_1).then((e) => e.slice(2)));
      const head = (await store.inner.readAll({ limit: 100 })).next;
      expect(store.comparePositions(result.position, head)).toBe(0);
    });
  });

  // -------------------------------------------------------------------------------------------
  // 3. Conflicts
  // -------------------------------------------------------------------------------------------

  describe('3. concurrency conflicts re-run the whole command', () => {
    it('re-reads and re-decides after a concurrent write: the decision sees the new state', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);
      store.hooks.beforeAppend = async (_writes, call) => {
        if (call === 1)
          await seed(store.inner, ACC_1, { type: 'MoneyWithdrawn', data: { amount: 50 } });
      };

      const error = await rejection(
        executor.execute(new Withdraw(ACC_1, 80)),
        BusinessRuleViolationError,
      );

      expect(error.rule).toBe(BankRules.insufficientFunds);
      expect(error.reason).toBe('insufficient funds');
      expect(store.reads).toHaveLength(2);
      expect(store.appends).toHaveLength(1);
      expect(await balanceOf(store, ACC_1)).toBe(50);
    });

    it('succeeds on the second attempt and reports attempts: 2', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100); // version 2
      store.hooks.beforeAppend = async (_writes, call) => {
        if (call === 1)
          await seed(store.inner, ACC_1, { type: 'MoneyWithdrawn', data: { amount: 15 } });
      };

      const result = await executor.execute(new Withdraw(ACC_1, 80));

      expect(result.attempts).toBe(2);
      expect(store.appends.map((w) => byStream(w)[ACC_1]?.expected)).toEqual([exact(2), exact(3)]);
      expect(result.events[0]).toMatchObject({ streamVersion: 4, data: { amount: 80 } });
      expect(runningBalances(await eventsOf(store, ACC_1))).toEqual([0, 100, 85, 5]);
    });

    it('retries when a read-only participant moved, and decides with its new state', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);
      store.hooks.beforeAppend = async (_writes, call) => {
        if (call === 1) {
          await seed(store.inner, BANK_POLICY, { type: 'WithdrawalLimitSet', data: { limit: 50 } });
        }
      };

      const error = await rejection(
        executor.execute(new LimitedWithdraw(ACC_1, 80)),
        BusinessRuleViolationError,
      );

      expect(error.rule).toBe(PolicyRules.limitExceeded);
      expect(store.reads).toHaveLength(2);
      expect(await balanceOf(store, ACC_1)).toBe(100);
    });

    it('a read-only participant that moved costs one more attempt, then guards its new version', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);
      store.hooks.beforeAppend = async (_writes, call) => {
        if (call === 1) {
          await seed(store.inner, BANK_POLICY, {
            type: 'WithdrawalLimitSet',
            data: { limit: 1000 },
          });
        }
      };

      const result = await executor.execute(new LimitedWithdraw(ACC_1, 80));

      expect(result.attempts).toBe(2);
      expect(store.appends.map((w) => byStream(w)['bank-policy'])).toEqual([
        { streamId: 'bank-policy', expected: exact(0), events: [] },
        { streamId: 'bank-policy', expected: exact(1), events: [] },
      ]);
    });
  });

  // -------------------------------------------------------------------------------------------
  // 4. Only conflicts are retried
  // -------------------------------------------------------------------------------------------

  describe('4. only ConcurrencyConflictError is retried', () => {
    it('a business rule violation is raised at once, with its rule and message', async () => {
      const { store, executor, sleeps } = setup();
      await givenAccount(store, ACC_1, 100);

      const error = await rejection(
        executor.execute(new Withdraw(ACC_1, 500)),
        BusinessRuleViolationError,
      );

      expect(error).toMatchObject({
        code: 'eventcore.business_rule_violation',
        commandName: 'Withdraw',
        rule: BankRules.insufficientFunds,
        reason: 'insufficient funds',
      });
      expect(error.message).toBe(
        ErrorMessages.businessRuleViolation('Withdraw', 'insufficient funds'),
      );
      expect(store.reads).toHaveLength(1);
      expect(store.appends).toHaveLength(0);
      expect(sleeps).toEqual([]);
    });

    it('an error thrown by handle() propagates unchanged after one attempt', async () => {
      const { store, executor, sleeps } = setup();

      await expect(executor.execute(new Explode('s-1'))).rejects.toBe(boom);

      expect(store.reads).toHaveLength(1);
      expect(sleeps).toEqual([]);
    });

    it('a store failure on append that is not a conflict propagates after one attempt', async () => {
      const { store, executor, sleeps } = setup();
      await givenAccount(store, ACC_1);
      const diskFull = new Error('disk full');
      store.hooks.beforeAppend = () => Promise.reject(diskFull);

      await expect(executor.execute(new Deposit(ACC_1, 5))).rejects.toBe(diskFull);

      expect(store.reads).toHaveLength(1);
      expect(store.appends).toHaveLength(1);
      expect(sleeps).toEqual([]);
    });

    it('a store failure on read propagates after one attempt', async () => {
      const { store, executor, sleeps } = setup();
      const down = new Error('connection refused');
      store.hooks.beforeRead = () => Promise.reject(down);

      await expect(executor.execute(new Deposit(ACC_1, 5))).rejects.toBe(down);

      expect(store.reads).toHaveLength(1);
      expect(store.appends).toHaveLength(0);
      expect(sleeps).toEqual([]);
    });
  });

  // -------------------------------------------------------------------------------------------
  // 5. Backoff, attempts, layered retry options
  // -------------------------------------------------------------------------------------------

  describe('5. backoff and retry options', () => {
    it('waits initialDelayMs * factor^(n-1), capped at maxDelayMs, with jitter, between attempts', async () => {
      const retry = {
        initialDelayMs: 10,
        backoffFactor: 3,
        maxDelayMs: 100,
        jitter: 0.5,
        maxAttempts: 10,
      };
      const { store, executor, sleeps } = setup({ retry, random: () => 0.5 });
      await givenAccount(store, ACC_1);
      store.hooks.beforeAppend = competingDeposits(store, ACC_1, 5);

      const result = await executor.execute(new Deposit(ACC_1, 7));

      expect(result.attempts).toBe(6);
      // base = min(100, 10 * 3^(n-1)) = 10, 30, 90, 100, 100; delay = base * (1 - 0.5) + base * 0.5 * 0.5
      expect(sleeps).toEqual([7.5, 22.5, 67.5, 75, 75]);
    });

    it('draws the jitter from the random source', async () => {
      const retry = { initialDelayMs: 8, backoffFactor: 2, maxDelayMs: 1000, jitter: 1 };
      const draws = [0, 0.25, 0.75];
      const { store, executor, sleeps } = setup({ retry, random: () => draws.shift()! });
      await givenAccount(store, ACC_1);
      store.hooks.beforeAppend = competingDeposits(store, ACC_1, 3);

      await executor.execute(new Deposit(ACC_1, 7));

      expect(sleeps).toEqual([0, 4, 24]); // full jitter: base (8, 16, 32) * random
    });

    it('defaults: 10 attempts, 2 ms doubling to a 250 ms cap, full jitter', async () => {
      const { store, executor, sleeps } = setup({ random: () => 0.5 });
      await givenAccount(store, ACC_1);
      store.hooks.beforeAppend = competingDeposits(store, ACC_1, 9);

      const result = await executor.execute(new Deposit(ACC_1, 7));

      expect(result.attempts).toBe(10);
      expect(sleeps).toEqual([1, 2, 4, 8, 16, 32, 64, 125, 125]);
    });

    it('gives up after maxAttempts with RetriesExhaustedError carrying the last conflict', async () => {
      const { store, executor, sleeps } = setup({ retry: { maxAttempts: 4 } });
      await givenAccount(store, ACC_1); // version 1
      store.hooks.beforeAppend = competingDeposits(store, ACC_1);

      const error = await rejection(
        executor.execute(new Deposit(ACC_1, 77)),
        RetriesExhaustedError,
      );

      expect(error).toMatchObject({
        code: 'eventcore.retries_exhausted',
        commandName: 'Deposit',
        attempts: 4,
      });
      expect(error.message).toBe(ErrorMessages.retriesExhausted('Deposit', 4));
      expect(error.lastConflict).toBeInstanceOf(ConcurrencyConflictError);
      expect((error.lastConflict as ConcurrencyConflictError).conflicts).toEqual([
        { streamId: ACC_1, expected: exact(4), actual: 5 },
      ]);
      expect(error.cause).toBe(error.lastConflict);
      expect(store.appends).toHaveLength(4);
      expect(sleeps).toHaveLength(3);
      const amounts = (await eventsOf(store, ACC_1)).map(
        (e) => (e.data as { amount?: number }).amount,
      );
      expect(amounts).not.toContain(77);
    });

    it('@Command({ retry }) overrides the executor, and the call options override both, field by field', async () => {
      const retry = {
        maxAttempts: 5,
        initialDelayMs: 100,
        backoffFactor: 2,
        jitter: 0,
        maxDelayMs: 1000,
      };

      const plain = setup({ retry });
      await givenAccount(plain.store, ACC_1);
      plain.store.hooks.beforeAppend = competingDeposits(plain.store, ACC_1);
      const a = await rejection(
        plain.executor.execute(new Deposit(ACC_1, 1)),
        RetriesExhaustedError,
      );
      expect(a.attempts).toBe(5);
      expect(plain.sleeps).toEqual([100, 200, 400, 800]);

      const perCommand = setup({ retry });
      await givenAccount(perCommand.store, ACC_1);
      perCommand.store.hooks.beforeAppend = competingDeposits(perCommand.store, ACC_1);
      const b = await rejection(
        perCommand.executor.execute(new ImpatientDeposit(ACC_1, 1)),
        RetriesExhaustedError,
      );
      expect(b.attempts).toBe(2);
      expect(perCommand.sleeps).toEqual([10]);

      const perCall = setup({ retry });
      await givenAccount(perCall.store, ACC_1);
      perCall.store.hooks.beforeAppend = competingDeposits(perCall.store, ACC_1);
      const c = await rejection(
        perCall.executor.execute(new ImpatientDeposit(ACC_1, 1), { retry: { maxAttempts: 3 } }),
        RetriesExhaustedError,
      );
      expect(c.attempts).toBe(3);
      expect(perCall.sleeps).toEqual([10, 20]); // command's initial delay, executor's factor
    });

    it('a field explicitly set to undefined keeps the value of the layer below', async () => {
      const { store, executor } = setup({ retry: { maxAttempts: 3, jitter: undefined } });
      await givenAccount(store, ACC_1);
      store.hooks.beforeAppend = competingDeposits(store, ACC_1);

      const error = await rejection(
        executor.execute(new Deposit(ACC_1, 1), { retry: { maxAttempts: undefined } }),
        RetriesExhaustedError,
      );

      expect(error.attempts).toBe(3);
    });

    const invalidRetries: [RetryOptions, string][] = [
      [{ maxAttempts: 0 }, 'retry.maxAttempts'],
      [{ maxAttempts: 1.5 }, 'retry.maxAttempts'],
      [{ initialDelayMs: -1 }, 'retry.initialDelayMs'],
      [{ initialDelayMs: Number.NaN }, 'retry.initialDelayMs'],
      [{ initialDelayMs: 50, maxDelayMs: 10 }, 'retry.maxDelayMs'],
      [{ backoffFactor: 0.5 }, 'retry.backoffFactor'],
      [{ jitter: 1.5 }, 'retry.jitter'],
      [{ jitter: -0.1 }, 'retry.jitter'],
      [{ timeoutMs: 0 }, 'retry.timeoutMs'],
      [{ timeoutMs: Number.POSITIVE_INFINITY }, 'retry.timeoutMs'],
    ];

    it.each(invalidRetries)(
      'refuses retry %j with InvalidOptionsError naming %s, wherever it is given',
      async (retry, field) => {
        const constructing = (() => {
          try {
            new CommandExecutor(new SpyStore(), { retry });
          } catch (error) {
            return error;
          }
        })();
        expect(constructing).toBeInstanceOf(InvalidOptionsError);
        expect(constructing).toMatchObject({ what: field, code: 'eventcore.invalid_options' });

        const perCall = setup();
        const a = await rejection(
          perCall.executor.execute(new Deposit(ACC_1, 1), { retry }),
          InvalidOptionsError,
        );
        expect(a.what).toBe(field);
        expectNoIo(perCall.store);

        const BadRetryDeposit = class BadRetryDeposit extends Deposit {};
        Command({ retry })(BadRetryDeposit);
        const perCommand = setup();
        const b = await rejection(
          perCommand.executor.execute(new BadRetryDeposit(ACC_1, 1)),
          InvalidOptionsError,
        );
        expect(b.what).toBe(field);
        expectNoIo(perCommand.store);
      },
    );

    it('refuses an invalid maxDiscoveryIterations', () => {
      expect(() => new CommandExecutor(new SpyStore(), { maxDiscoveryIterations: -1 })).toThrow(
        expect.objectContaining({ what: 'maxDiscoveryIterations' }),
      );
    });
  });

  // -------------------------------------------------------------------------------------------
  // 6. Timeout
  // -------------------------------------------------------------------------------------------

  describe('6. the overall timeout', () => {
    function controllableClock() {
      let now = Date.parse('2030-01-01T00:00:00.000Z');
      const clock: Clock = { now: () => new Date(now) };
      return { clock, advance: (ms: number) => void (now += ms) };
    }

    it('stops retrying when the next wait would pass the deadline: CommandTimeoutError, not-written', async () => {
      const { clock, advance } = controllableClock();
      const sleeps: number[] = [];
      const store = new SpyStore();
      const executor = new CommandExecutor(store, {
        clock,
        sleep: async (ms) => {
          sleeps.push(ms);
          advance(ms);
        },
        retry: {
          timeoutMs: 100,
          initialDelayMs: 20,
          backoffFactor: 2,
          jitter: 0,
          maxDelayMs: 1000,
          maxAttempts: 50,
        },
      });
      await givenAccount(store, ACC_1);
      store.hooks.beforeAppend = competingDeposits(store, ACC_1);

      const error = await rejection(executor.execute(new Deposit(ACC_1, 77)), CommandTimeoutError);

      // t=0 conflict, wait 20; t=20 conflict, wait 40; t=60 conflict, 60 + 80 >= 100: give up.
      expect(error).toMatchObject({
        code: 'eventcore.command_timeout',
        commandName: 'Deposit',
        timeoutMs: 100,
        attempts: 3,
        outcome: 'not-written',
      });
      expect(error.message).toBe(ErrorMessages.commandTimeout('Deposit', 100, 'not-written'));
      expect(sleeps).toEqual([20, 40]);
      expect(store.appends).toHaveLength(3);
    });

    it('counts the time spent in the store, not only the waits', async () => {
      const { clock, advance } = controllableClock();
      const store = new SpyStore();
      const executor = new CommandExecutor(store, {
        clock,
        sleep: async (ms) => advance(ms),
        retry: { timeoutMs: 100, initialDelayMs: 10, backoffFactor: 1, jitter: 0, maxAttempts: 50 },
      });
      await givenAccount(store, ACC_1);
      store.hooks.beforeAppend = async () => {
        advance(25); // a slow append that then conflicts
        await seed(store.inner, ACC_1, { type: 'MoneyDeposited', data: { amount: 1 } });
      };

      const error = await rejection(executor.execute(new Deposit(ACC_1, 77)), CommandTimeoutError);

      // appends end at t=25, 60, 95; waits of 10 in between; 95 + 10 >= 100.
      expect(error.attempts).toBe(3);
      expect(error.outcome).toBe('not-written');
    });

    it('an append that never answers ends in CommandTimeoutError with outcome unknown', async () => {
      const store = new SpyStore();
      const executor = new CommandExecutor(store, { retry: { timeoutMs: 50 } });
      await givenAccount(store, ACC_1);
      store.hooks.beforeAppend = () => new Promise(() => {});

      const error = await rejection(executor.execute(new Deposit(ACC_1, 5)), CommandTimeoutError);

      expect(error).toMatchObject({ outcome: 'unknown', attempts: 1, timeoutMs: 50 });
      expect(error.message).toBe(ErrorMessages.commandTimeout('Deposit', 50, 'unknown'));
      expect(store.appends).toHaveLength(1);
    });

    it('times out a hanging command with a short timeout while one with a long timeout is in flight', async () => {
      const store = new SpyStore();
      const executor = new CommandExecutor(store, { retry: { timeoutMs: 60_000 } });
      await givenAccount(store, ACC_1);
      await givenAccount(store, ACC_2);
      let release!: () => void;
      store.hooks.beforeAppend = (writes) =>
        writes[0]!.streamId === ACC_1
          ? new Promise<void>((resolve) => (release = resolve))
          : new Promise(() => {});

      // The first command's append waits with 60 s left; the second one must still end at 30 ms.
      let slowSettled = false;
      const slow = executor.execute(new Deposit(ACC_1, 5)).finally(() => (slowSettled = true));
      const error = await rejection(
        executor.execute(new Deposit(ACC_2, 5), { retry: { timeoutMs: 30 } }),
        CommandTimeoutError,
      );
      expect(error).toMatchObject({ outcome: 'unknown', attempts: 1, timeoutMs: 30 });
      expect(slowSettled).toBe(false);
      release();
      await expect(slow).resolves.toMatchObject({ attempts: 1 });
    });

    it('a read that never answers ends in CommandTimeoutError with outcome not-written', async () => {
      const store = new SpyStore();
      const executor = new CommandExecutor(store, { retry: { timeoutMs: 50 } });
      store.hooks.beforeRead = () => new Promise(() => {});

      const error = await rejection(executor.execute(new Deposit(ACC_1, 5)), CommandTimeoutError);

      expect(error).toMatchObject({ outcome: 'not-written', attempts: 1 });
      expect(store.appends).toHaveLength(0);
    });
  });

  // -------------------------------------------------------------------------------------------
  // 7. Undeclared streams
  // -------------------------------------------------------------------------------------------

  describe('7. writing outside the boundary', () => {
    it('emitTo a stream outside the boundary is an UndeclaredStreamError, and nothing is written', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);
      const before = await store.allEvents();

      const error = await rejection(
        executor.execute(new LeakyDeposit(ACC_1)),
        UndeclaredStreamError,
      );

      expect(error).toMatchObject({
        code: 'eventcore.undeclared_stream',
        commandName: 'LeakyDeposit',
        streamId: 'acc-elsewhere',
      });
      expect(error.message).toBe(ErrorMessages.undeclaredStream('LeakyDeposit', 'acc-elsewhere'));
      expect(store.appends).toHaveLength(0);
      expect(await store.allEvents()).toEqual(before);
    });

    it('emit() by the name of a property that is not a @Stream is an UndeclaredStreamError', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);

      const error = await rejection(
        executor.execute(new MirroredDeposit(ACC_1, 'acc-archive')),
        UndeclaredStreamError,
      );

      expect(error.streamId).toBe('(property archive)');
      expect(store.reads).toEqual([[ACC_1]]);
      expect(store.appends).toHaveLength(0);
    });

    it('an array @Stream property is in the boundary: emitTo each of its ids, in one append', async () => {
      const { store, executor } = setup();

      const result = await executor.execute(new PayBonus([ACC_1, ACC_2, ACC_3], 5));

      expect(store.reads).toHaveLength(1);
      expect(store.appends).toHaveLength(1);
      expect(result.events.map((e) => e.streamId).sort()).toEqual([ACC_1, ACC_2, ACC_3]);
    });

    it('emit() on an array @Stream property is refused (it names several streams)', async () => {
      const { store, executor } = setup();

      await rejection(
        executor.execute(new PayBonusWrongly([ACC_1, ACC_2], 5)),
        InvalidCommandError,
      );

      expect(store.appends).toHaveLength(0);
    });
  });

  // -------------------------------------------------------------------------------------------
  // 8. Dynamic discovery
  // -------------------------------------------------------------------------------------------

  describe('8. dynamic stream discovery', () => {
    async function givenProducts(store: SpyStore): Promise<void> {
      await seed(store.inner, 'product-apple', { type: 'StockAdded', data: { quantity: 5 } });
      await seed(
        store.inner,
        'product-pear',
        { type: 'StockAdded', data: { quantity: 3 } },
        { type: 'StockReserved', data: { orderId: 'order-0', quantity: 1 } },
      );
    }

    it('reads the discovered streams with the whole boundary, folds them, and writes them atomically', async () => {
      const { store, executor } = setup();
      await givenProducts(store);

      const result = await executor.execute(
        new PlaceOrder('order-1', [
          ['apple', 2],
          ['pear', 2],
        ]),
      );

      expect(store.reads.map((ids) => [...ids].sort())).toEqual([
        ['order-1'],
        ['order-1', 'product-apple', 'product-pear'],
      ]);
      expect(store.appends).toHaveLength(1);
      const writes = byStream(store.appends[0]);
      expect(Object.keys(writes).sort()).toEqual(['order-1', 'product-apple', 'product-pear']);
      expect(writes['order-1']?.expected).toEqual(exact(0));
      expect(writes['product-apple']?.expected).toEqual(exact(1));
      expect(writes['product-pear']?.expected).toEqual(exact(2));
      expect(writes['product-pear']?.events.map((e) => e.data)).toEqual([
        { orderId: 'order-1', quantity: 2 },
      ]);
      expect(result.streamVersions).toEqual({
        'order-1': 1,
        'product-apple': 2,
        'product-pear': 3,
      });
    });

    it('the decision sees the discovered streams folded', async () => {
      const { store, executor } = setup();
      await givenProducts(store);

      const error = await rejection(
        executor.execute(new PlaceOrder('order-1', [['pear', 3]])),
        BusinessRuleViolationError,
      );

      expect(error.rule).toBe(ShopRules.outOfStock);
      expect(error.reason).toBe('only 2 of pear in stock');
      expect(store.appends).toHaveLength(0);
    });

    it('a discovered stream that moved before the append causes a retry', async () => {
      const { store, executor } = setup();
      await givenProducts(store);
      store.hooks.beforeAppend = async (_writes, call) => {
        if (call === 1) {
          await seed(store.inner, 'product-apple', {
            type: 'StockReserved',
            data: { orderId: 'order-x', quantity: 4 },
          });
        }
      };

      const error = await rejection(
        executor.execute(new PlaceOrder('order-1', [['apple', 2]])),
        BusinessRuleViolationError,
      );

      expect(error.reason).toBe('only 1 of apple in stock');
      expect(store.reads.map((ids) => [...ids].sort())).toEqual([
        ['order-1'],
        ['order-1', 'product-apple'],
        ['order-1'],
        ['order-1', 'product-apple'],
      ]);
    });

    it('allows maxDiscoveryIterations rounds (default 8); discovering a stream already in the boundary is no round', async () => {
      const { store, executor } = setup();

      const result = await executor.execute(new Explorer('start', 8));

      expect(store.reads).toHaveLength(9);
      store.reads.forEach((ids, round) => {
        expect(ids).toEqual([
          'start',
          ...Array.from({ length: round }, (_, i) => `probe-${i + 1}`),
        ]);
      });
      expect(result.events.map((e) => e.streamId)).toEqual(['probe-8']);
      expect(Object.keys(result.streamVersions)).toHaveLength(9);
    });

    it.each([3, 12])(
      'with %i streams discovered at once, emits to any of them and to no other stream',
      async (count) => {
        const { store, executor } = setup();
        const result = await executor.execute(new Fanout('start', count, `fan-${count - 1}`));
        expect(store.reads.map((ids) => ids.length)).toEqual([1, count + 1]);
        expect(result.events.map((e) => e.streamId)).toEqual([`fan-${count - 1}`]);
        expect(Object.keys(result.streamVersions)).toHaveLength(count + 1);

        store.reset();
        await rejection(
          executor.execute(new Fanout('start', count, `fan-${count}`)),
          UndeclaredStreamError,
        );
        expect(store.appends).toHaveLength(0);
      },
    );

    it('discovery that never converges ends in StreamDiscoveryLimitError after limit + 1 reads', async () => {
      const { store, executor } = setup();

      const error = await rejection(
        executor.execute(new Wanderer('start')),
        StreamDiscoveryLimitError,
      );

      expect(error).toMatchObject({
        code: 'eventcore.stream_discovery_limit',
        commandName: 'Wanderer',
        limit: 8,
      });
      expect(error.streamIds).toContain('elsewhere-9');
      expect(error.message).toBe(ErrorMessages.streamDiscoveryLimit('Wanderer', 8));
      expect(store.reads).toHaveLength(9);
      expect(store.appends).toHaveLength(0);
    });

    it('the limit is an executor option', async () => {
      const { store, executor } = setup({ maxDiscoveryIterations: 3 });

      await executor.execute(new Explorer('start', 3));
      store.reset();
      const error = await rejection(
        executor.execute(new Explorer('start', 4)),
        StreamDiscoveryLimitError,
      );

      expect(error.limit).toBe(3);
      expect(store.reads).toHaveLength(4);
    });

    it('@Command({ maxDiscoveryIterations }) overrides the executor option', async () => {
      const { store, executor } = setup({ maxDiscoveryIterations: 5 });

      await executor.execute(new ShallowExplorer('start', 2));
      store.reset();
      const error = await rejection(
        executor.execute(new ShallowExplorer('start', 3)),
        StreamDiscoveryLimitError,
      );

      expect(error.limit).toBe(2);
      expect(store.reads).toHaveLength(3);
    });

    it('discover() refuses an invalid stream id', async () => {
      const { executor } = setup();
      @Command()
      class DiscoverBadly extends Wanderer {
        override handle(_state: null, ctx: CommandContext<DomainEvent, Wanderer>): void {
          ctx.discover('product-*' as StreamId);
        }
      }

      await rejection(executor.execute(new DiscoverBadly('start')), InvalidStreamIdError);
    });
  });

  // -------------------------------------------------------------------------------------------
  // 9. Idempotency
  // -------------------------------------------------------------------------------------------

  describe('9. idempotency keys', () => {
    async function deposits(store: SpyStore, account: string): Promise<number[]> {
      return (await eventsOf(store, account))
        .filter((e) => e.type === 'MoneyDeposited')
        .map((e) => (e.data as { amount: number }).amount);
    }

    it('the same key twice writes once and returns the first result, marked replayed', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);
      const command = () => new Deposit(ACC_1, 25);

      const first = await executor.execute(command(), { idempotencyKey: 'req-1' });
      const second = await executor.execute(command(), { idempotencyKey: 'req-1' });

      expect(first.replayed).toBe(false);
      expect(second).toMatchObject({
        replayed: true,
        commandId: first.commandId,
        commandName: 'Deposit',
      });
      expect(second.events).toEqual(first.events);
      expect(second.streamVersions).toEqual(first.streamVersions);
      expect(store.comparePositions(second.position, first.position)).toBeGreaterThanOrEqual(0);
      expect(store.appends).toHaveLength(1);
      expect(await deposits(store, ACC_1)).toEqual([25]);
    });

    it('replays the first result even after the streams moved on', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);
      const first = await executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: 'req-1' });
      await executor.execute(new Deposit(ACC_1, 10));

      const second = await executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: 'req-1' });

      expect(second.events).toEqual(first.events);
      expect(second.streamVersions).toEqual({ [ACC_1]: 2 });
      expect(await deposits(store, ACC_1)).toEqual([25, 10]);
    });

    it('the same key with different input is an IdempotencyKeyReuseError, and nothing is written', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);
      await executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: 'req-1' });

      const error = await rejection(
        executor.execute(new Deposit(ACC_1, 26), { idempotencyKey: 'req-1' }),
        IdempotencyKeyReuseError,
      );

      expect(error).toMatchObject({
        code: 'eventcore.idempotency_key_reuse',
        commandName: 'Deposit',
        idempotencyKey: 'req-1',
      });
      expect(error.message).toBe(ErrorMessages.idempotencyKeyReuse('Deposit', 'req-1'));
      expect(store.appends).toHaveLength(1);
      expect(await deposits(store, ACC_1)).toEqual([25]);
    });

    it('tells inputs apart by the value of a Date property', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);
      const on = (iso: string) => new AnnotatedDeposit(ACC_1, 25, { valueDate: new Date(iso) });
      await executor.execute(on('2030-01-01T00:00:00Z'), { idempotencyKey: 'req-1' });

      const same = await executor.execute(on('2030-01-01T00:00:00Z'), { idempotencyKey: 'req-1' });
      expect(same.replayed).toBe(true);

      await rejection(
        executor.execute(on('2030-06-01T00:00:00Z'), { idempotencyKey: 'req-1' }),
        IdempotencyKeyReuseError,
      );
    });

    it('a property set to undefined is the same input as a missing one', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);
      await executor.execute(new AnnotatedDeposit(ACC_1, 25), { idempotencyKey: 'req-1' });

      const again = Object.assign(new AnnotatedDeposit(ACC_1, 25), { reference: undefined });
      const result = await executor.execute(again, { idempotencyKey: 'req-1' });

      expect(result.replayed).toBe(true);
    });

    it('keys are scoped by command name', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);

      await executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: 'same' });
      const withdrawal = await executor.execute(new Withdraw(ACC_1, 5), {
        idempotencyKey: 'same',
      });

      expect(withdrawal.replayed).toBe(false);
      expect(await balanceOf(store, ACC_1)).toBe(120);
    });

    it('two concurrent executions with the same key write once', async () => {
      // As from two processes: without turns, both read before either appends.
      const { store, executor } = setup({ streamTurns: false });
      await givenAccount(store, ACC_1);
      // Hold every append until both executions have read: both decide on the same state.
      let bothRead!: () => void;
      const gate = new Promise<void>((resolve) => (bothRead = resolve));
      store.hooks.afterRead = (_ids, call) => {
        if (call === 2) bothRead();
      };
      store.hooks.beforeAppend = () => gate;

      const results = await Promise.all([
        executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: 'req-1' }),
        executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: 'req-1' }),
      ]);

      expect(await deposits(store, ACC_1)).toEqual([25]);
      expect(results.map((r) => r.replayed).sort()).toEqual([false, true]);
      expect(results[0]?.commandId).toBe(results[1]?.commandId);
      expect(results[0]?.events).toEqual(results[1]?.events);
      expect(results.map((r) => r.attempts).sort()).toEqual([1, 2]);
    });

    it.each([
      ['glob characters', 'order*42?[x]'],
      ['quotes', `it's "quoted"`],
      ['unicode', 'ключ-🔑-鍵-é'],
      ['spaces', '  padded key  '],
      ['200 characters', 'k'.repeat(200)],
    ])('a key with %s works', async (_, key) => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);

      const first = await executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: key });
      const second = await executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: key });
      const other = await executor.execute(new Deposit(ACC_1, 25), {
        idempotencyKey: `x${key.slice(1)}`,
      });

      expect([first.replayed, second.replayed, other.replayed]).toEqual([false, true, false]);
      expect(await deposits(store, ACC_1)).toEqual([25, 25]);
    });

    it.each([
      ['an empty key', ''],
      ['a key over 200 characters', 'k'.repeat(201)],
      ['a control character', 'line\nbreak'],
      ['a non-string', 42],
    ])('refuses %s with InvalidOptionsError before any I/O', async (_, key) => {
      const { store, executor } = setup();

      const error = await rejection(
        executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: key as string }),
        InvalidOptionsError,
      );

      expect(error.what).toBe('idempotencyKey');
      expectNoIo(store);
    });

    it('the idempotency record is written in the same append, outside the result and the fold', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1);
      const apply = jest.spyOn(Deposit.prototype, 'apply');

      try {
        const first = await executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: 'req-1' });
        await executor.execute(new Deposit(ACC_1, 25), { idempotencyKey: 'req-1' });
        await executor.execute(new Deposit(ACC_1, 5), { idempotencyKey: 'req-2' });

        expect(first.events.map((e) => e.type)).toEqual(['MoneyDeposited']);
        const written = store.appends[0]!;
        expect(written).toHaveLength(2);
        const record = written.find((w) => w.streamId.startsWith('$'))!;
        expect(record.expected).toEqual(exact(0));
        expect(record.events.map((e) => e.type)).toEqual([IDEMPOTENCY_RECORD_TYPE]);
        // First run folds the opening; the replay decides nothing; req-2 folds opening + deposit.
        const folded = apply.mock.calls.map(([, event]) => event.type);
        expect(folded).not.toContain(IDEMPOTENCY_RECORD_TYPE);
        expect(folded).toEqual(['AccountOpened', 'AccountOpened', 'MoneyDeposited']);
      } finally {
        apply.mockRestore();
      }
    });

    it('a rejected command records nothing: the same key can succeed later', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);

      await rejection(
        executor.execute(new Withdraw(ACC_1, 150), { idempotencyKey: 'w-1' }),
        BusinessRuleViolationError,
      );
      await seed(store.inner, ACC_1, { type: 'MoneyDeposited', data: { amount: 100 } });
      const result = await executor.execute(new Withdraw(ACC_1, 150), { idempotencyKey: 'w-1' });

      expect(result.replayed).toBe(false);
      expect(await balanceOf(store, ACC_1)).toBe(50);
    });
  });

  // -------------------------------------------------------------------------------------------
  // 10. Metadata
  // -------------------------------------------------------------------------------------------

  describe('10. event metadata', () => {
    it('correlation and causation ids default to the command id; no user, no custom fields', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);
      await givenAccount(store, ACC_2);

      const result = await executor.execute(new TransferMoney(ACC_1, ACC_2, 30));

      expect(result.events).toHaveLength(2);
      for (const event of result.events) {
        expect(event.metadata).toEqual({
          correlationId: result.commandId,
          causationId: result.commandId,
          userId: null,
          custom: {},
        });
      }
    });

    it('given correlation id, causation id, user id and custom metadata land on every event', async () => {
      const { store, executor } = setup();
      await givenAccount(store, ACC_1, 100);
      await givenAccount(store, ACC_2);

      const result = await executor.execute(new TransferMoney(ACC_1, ACC_2, 30), {
        correlationId: 'corr-1',
        causationId: 'event-9',
        userId: 'user-7',
        metadata: { tenant: 'acme', trace: { span: 3 } },
      });

      expect(result.events).toHaveLength(2);
      for (const event of result.events) {
        expect(event.metadata).toEqual({
          correlationId: 'corr-1',
          causationId: 'event-9',
          userId: 'user-7',
          custom: { tenant: 'acme', trace: { span: 3 } },
        });
      }
    });

    it('per-event custom metadata is merged over the call metadata, for that event only', async () => {
      const { executor } = setup();

      const result = await executor.execute(new Stamp('s-1', 's-2'), {
        metadata: { tenant: 'acme', region: 'eu' },
      });

      const custom = Object.fromEntries(result.events.map((e) => [e.streamId, e.metadata.custom]));
      expect(custom).toEqual({
        's-1': { tenant: 'per-event', region: 'eu', channel: 'atm' },
        's-2': { tenant: 'acme', region: 'eu' },
      });
    });

    it('occurredAt and ctx.now come from the clock', async () => {
      const at = '2031-02-03T04:05:06.789Z';
      const { executor } = setup({ clock: { now: () => new Date(at) } });

      const result = await executor.execute(new Stamp('s-1', 's-2'));

      expect(result.events.map((e) => e.occurredAt)).toEqual([at, at]);
      expect(result.events.map((e) => (e.data as { at: string }).at)).toEqual([at, at]);
    });

    it('command, event and ctx.newId() ids come from the idGenerator', async () => {
      let next = 0;
      const { executor } = setup({ idGenerator: () => `id-${++next}` });

      const result = await executor.execute(new Stamp('s-1', 's-2'));

      const ids = [
        result.commandId,
        ...result.events.map((e) => e.id),
        ...result.events.map((e) => (e.data as { ref: string }).ref),
      ];
      expect(new Set(ids).size).toBe(5);
      for (const id of ids) expect(id).toMatch(/^id-\d+$/);
    });

    it('by default, ids are time-ordered UUIDv7', async () => {
      const { executor } = setup();

      const result = await executor.execute(new Stamp('s-1', 's-2'));

      const eventIds = result.events.map((e) => e.id);
      for (const id of [result.commandId, ...eventIds]) expect(id).toMatch(UUID_V7);
      expect([...eventIds].sort()).toEqual(eventIds);
    });

    it.each([
      [{ correlationId: '' }, 'correlationId'],
      [{ causationId: 'x'.repeat(201) }, 'causationId'],
      [{ userId: 7 as unknown as string }, 'userId'],
      [{ metadata: [] as unknown as Record<string, unknown> }, 'metadata'],
    ])('refuses call options %j before any I/O', async (options, field) => {
      const { store, executor } = setup();

      const error = await rejection(
        executor.execute(new Deposit(ACC_1, 1), options),
        InvalidOptionsError,
      );

      expect(error.what).toBe(field);
      expectNoIo(store);
    });
  });

  // -------------------------------------------------------------------------------------------
  // 11. No-op decisions and unusable commands
  // -------------------------------------------------------------------------------------------

  describe('11. no-op decisions and unusable commands', () => {
    it('a decision that emits nothing appends nothing and returns the read position', async () => {
      const { store, executor } = setup();
      await seed(store.inner, 's-1', { type: 'Tick', data: {} }, { type: 'Tick', data: {} });
      await seed(store.inner, 's-2', { type: 'Tick', data: {} });

      const result = await executor.execute(new Inspect('s-1'));

      expect(store.appends).toHaveLength(0);
      expect(result).toMatchObject({
        events: [],
        streamVersions: { 's-1': 2 },
        attempts: 1,
        replayed: false,
      });
      const head = (await store.inner.readAll({ limit: 100 })).next;
      expect(store.comparePositions(result.position, head)).toBe(0);
    });

    it('handle() returning a promise is an InvalidCommandError, and nothing is written', async () => {
      const { store, executor } = setup();

      const error = await rejection(executor.execute(new AsyncDeposit(ACC_1)), InvalidCommandError);

      expect(error.message).toContain('returned a promise');
      expect(store.appends).toHaveLength(0);
    });

    it('an async handle() that rejects does not leave an unhandled rejection behind', async () => {
      const { executor } = setup();
      @Command()
      class AsyncFailure extends AsyncDeposit {
        override async handle(
          _state: null,
          ctx: CommandContext<BankEvent, AsyncDeposit>,
        ): Promise<void> {
          ctx.require(false, 'never', 'async.rule');
        }
      }
      await rejection(executor.execute(new AsyncFailure(ACC_1)), InvalidCommandError);
      // Jest fails the test that is running when a rejection is left unhandled; give it time to.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    });

    it('a class without @Command() is an InvalidCommandError before any I/O', async () => {
      const { store, executor } = setup();
      class Undecorated implements CommandLogic<null> {
        account = ACC_1 as StreamId;
        initialState(): null {
          return null;
        }
        apply(): null {
          return null;
        }
        handle(): void {}
      }

      const error = await rejection(executor.execute(new Undecorated()), InvalidCommandError);

      expect(error.message).toBe(ErrorMessages.notACommand('Undecorated'));
      expectNoIo(store);
    });

    it('a @Command() class without the CommandLogic methods is an InvalidCommandError', async () => {
      const { store, executor } = setup();
      @Command()
      class Incomplete {
        @Stream() account = ACC_1 as StreamId;
      }

      const error = await rejection(
        executor.execute(new Incomplete() as unknown as CommandLogic<unknown>),
        InvalidCommandError,
      );

      expect(error.message).toContain('initialState');
      expectNoIo(store);
    });

    it('a non-object command is an InvalidCommandError', async () => {
      const { executor } = setup();

      await rejection(
        executor.execute(null as unknown as CommandLogic<unknown>),
        InvalidCommandError,
      );
    });

    it('the executor needs a store', () => {
      expect(() => new CommandExecutor(undefined as never)).toThrow(InvalidOptionsError);
    });
  });

  it('sanity: the fixtures run a whole bank through the executor', async () => {
    const { store, executor } = setup();
    await executor.execute(new OpenAccount(ACC_1, 'Ada'));
    await executor.execute(new OpenAccount(ACC_2, 'Bob'));
    await executor.execute(new Deposit(ACC_1, 100));
    await executor.execute(new SetWithdrawalLimit(60));
    await executor.execute(new TransferMoney(ACC_1, ACC_2, 70));
    await executor.execute(new LimitedWithdraw(ACC_2, 60));
    await rejection(executor.execute(new LimitedWithdraw(ACC_2, 11)), BusinessRuleViolationError);
    await rejection(executor.execute(new OpenAccount(ACC_1, 'Eve')), BusinessRuleViolationError);

    expect(await balanceOf(store, ACC_1)).toBe(30);
    expect(await balanceOf(store, ACC_2)).toBe(10);
  });
});

describe('CommandExecutor: command definitions and late deadlines', () => {
  type Noted = { type: 'Noted'; data: Record<string, never> };

  @Command()
  class NoStreams implements CommandLogic<null, Noted> {
    initialState(): null {
      return null;
    }
    apply(): null {
      return null;
    }
    handle(): void {}
  }

  @Command()
  class Parent implements CommandLogic<null, Noted> {
    @Stream() stream: StreamId = streamId('parent-1');
    initialState(): null {
      return null;
    }
    apply(): null {
      return null;
    }
    handle(_: null, ctx: CommandContext<Noted, Parent>): void {
      ctx.emit('stream', { type: 'Noted', data: {} });
    }
  }

  class UndecoratedChild extends Parent {}

  it('refuses a command with neither a @Stream property nor a @Boundary method before any I/O', async () => {
    const { store, executor } = setup();
    await expect(executor.execute(new NoStreams())).rejects.toThrow(InvalidCommandError);
    await expect(executor.execute(new NoStreams())).rejects.toThrow(
      /neither a @Stream\(\) property nor a @Boundary\(\) method/,
    );
    expect(store.reads).toHaveLength(0);
  });

  it('refuses a subclass that is not decorated itself', async () => {
    const { executor } = setup();
    await expect(executor.execute(new UndecoratedChild())).rejects.toThrow(InvalidCommandError);
    await expect(executor.execute(new Parent())).resolves.toMatchObject({ attempts: 1 });
  });

  it('does not start the append when the decision ran past the deadline: the outcome is certain', async () => {
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    const clock: Clock = { now: () => new Date(now) };

    @Command({ retry: { timeoutMs: 100 } })
    class Slow implements CommandLogic<null, Noted> {
      @Stream() stream: StreamId = streamId('slow-1');
      initialState(): null {
        return null;
      }
      apply(): null {
        return null;
      }
      handle(_: null, ctx: CommandContext<Noted, Slow>): void {
        now += 500; // the decision "takes" longer than the whole budget
        ctx.emit('stream', { type: 'Noted', data: {} });
      }
    }

    const { store, executor } = setup({ clock });
    const error = await executor.execute(new Slow()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect((error as CommandTimeoutError).outcome).toBe('not-written');
    expect(store.appends).toHaveLength(0);
  });
});

describe('CommandExecutor: commands of one executor take turns on shared streams', () => {
  /** Holds every append until `release` is called. */
  function holdAppends(store: SpyStore) {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    store.hooks.beforeAppend = () => held;
    return release;
  }

  it('runs concurrent commands on one stream one after another: none conflicts', async () => {
    const { store, executor } = setup({ stateCache: { maxEntries: 10 } });
    await givenAccount(store, ACC_1);
    const release = holdAppends(store);
    const both = Promise.all([
      executor.execute(new Deposit(ACC_1, 10)),
      executor.execute(new Deposit(ACC_1, 20)),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.appends).toHaveLength(1); // the second waits for its turn, it has not even read
    release();
    const results = await both;
    expect(results.map((r) => r.attempts)).toEqual([1, 1]);
    expect(results.map((r) => r.streamVersions[ACC_1])).toEqual([2, 3]);
  });

  it('without turns, the same two commands race and one of them conflicts', async () => {
    const { store, executor } = setup({ stateCache: { maxEntries: 10 }, streamTurns: false });
    await givenAccount(store, ACC_1);
    const release = holdAppends(store);
    const both = Promise.all([
      executor.execute(new Deposit(ACC_1, 10)),
      executor.execute(new Deposit(ACC_1, 20)),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const results = await both;
    expect(results.map((r) => r.attempts).sort()).toEqual([1, 2]);
  });

  it('lets commands on other streams through while one waits', async () => {
    const { store, executor } = setup();
    await givenAccount(store, ACC_1);
    await givenAccount(store, ACC_2);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    store.hooks.beforeAppend = (writes) =>
      writes.some((w) => w.streamId === ACC_1) ? held : undefined;
    const first = executor.execute(new Deposit(ACC_1, 10));
    await expect(executor.execute(new Deposit(ACC_2, 5))).resolves.toMatchObject({
      attempts: 1,
    });
    release();
    await first;
  });

  it('refuses a streamTurns option that is not a boolean', () => {
    expect(() => setup({ streamTurns: 'no' as unknown as boolean })).toThrow(InvalidOptionsError);
  });

  it('gives up waiting at the deadline (nothing written), and the next one still gets its turn', async () => {
    const { store, executor } = setup();
    await givenAccount(store, ACC_1);
    const before = store.appends.length;
    const release = holdAppends(store);
    const first = executor.execute(new Deposit(ACC_1, 10));
    const waiting = executor.execute(new Deposit(ACC_1, 20), { retry: { timeoutMs: 20 } });
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTimeoutError);
    expect(error).toMatchObject({ outcome: 'not-written', attempts: 0 });
    release();
    await first;
    await expect(executor.execute(new Deposit(ACC_1, 30))).resolves.toMatchObject({
      attempts: 1,
    });
    expect(store.appends).toHaveLength(before + 2); // the first and the last; the one that gave up none
  });
});
