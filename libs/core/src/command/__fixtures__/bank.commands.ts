/**
 * Shared fixtures of the executor's tests: a small bank (accounts and a read-only withdrawal
 * policy), a shop whose orders discover their product streams at run time, and an event store
 * wrapper that records every call and lets a test act between a read and an append.
 */
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsDate,
  IsInt,
  IsOptional,
  IsPositive,
  IsString,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import type { DomainEvent, EventToAppend, RecordedEvent } from '../../events/event';
import { newEventId } from '../../events/event-id';
import { InMemoryEventStore } from '../../memory/in-memory.event-store';
import type {
  AppendResult,
  EventStore,
  Position,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamsResult,
  StreamWrite,
} from '../../store/event-store';
import { ExpectedVersion } from '../../store/expected-version';
import { type StreamId, streamId } from '../../store/stream-id';
import { Command, Stream } from '../command.decorators';
import type { CommandContext, CommandLogic } from '../command-logic';

// ---------------------------------------------------------------------------------------------
// Bank
// ---------------------------------------------------------------------------------------------

export type BankEvent =
  | DomainEvent<'AccountOpened', { owner: string }>
  | DomainEvent<'Deposited', { amount: number }>
  | DomainEvent<'Withdrawn', { amount: number }>
  | DomainEvent<'WithdrawalLimitSet', { limit: number }>;

/** Stable rule identifiers of the bank's `ctx.require` calls. */
export const BankRules = {
  alreadyOpen: 'account.already_open',
  notOpen: 'account.not_open',
  insufficientFunds: 'account.insufficient_funds',
  sameAccount: 'transfer.same_account',
  limitExceeded: 'policy.limit_exceeded',
} as const;

export interface AccountState {
  readonly open: boolean;
  readonly balance: number;
}

export const NO_ACCOUNT: AccountState = Object.freeze({ open: false, balance: 0 });

/** Folds one account event (any other event leaves the state unchanged). */
export function evolveAccount(state: AccountState, event: RecordedEvent<BankEvent>): AccountState {
  switch (event.type) {
    case 'AccountOpened':
      return { ...state, open: true };
    case 'Deposited':
      return { ...state, balance: state.balance + (event.data as { amount: number }).amount };
    case 'Withdrawn':
      return { ...state, balance: state.balance - (event.data as { amount: number }).amount };
    default:
      return state;
  }
}

/** The balance of an account after each of its events, in order (to check "never negative"). */
export function runningBalances(events: readonly RecordedEvent[]): number[] {
  let state = NO_ACCOUNT;
  return events.map(
    (event) => (state = evolveAccount(state, event as RecordedEvent<BankEvent>)).balance,
  );
}

/** The bank-wide stream holding the withdrawal limit: a read-only participant of `Withdraw`. */
export const BANK_POLICY = streamId('bank-policy');

@Command()
export class OpenAccount implements CommandLogic<AccountState, BankEvent> {
  @Stream() account: StreamId;
  @IsString() @Length(1, 100) owner: string;

  constructor(account: string, owner: string) {
    this.account = account as StreamId;
    this.owner = owner;
  }

  initialState(): AccountState {
    return NO_ACCOUNT;
  }

  apply(state: AccountState, event: RecordedEvent<BankEvent>): AccountState {
    return evolveAccount(state, event);
  }

  handle(state: AccountState, ctx: CommandContext<BankEvent, OpenAccount>): void {
    ctx.require(!state.open, 'the account is already open', BankRules.alreadyOpen);
    ctx.emit('account', { type: 'AccountOpened', data: { owner: this.owner } });
  }
}

@Command()
export class Deposit implements CommandLogic<AccountState, BankEvent> {
  @Stream() account: StreamId;
  @IsInt() @IsPositive() amount: number;
  /** Optional free text; validated so that tests can fail two properties at once. */
  @IsOptional() @IsString() @MaxLength(100) reference?: string;
  /** Optional value date; a Date input must count in the idempotency fingerprint. */
  @IsOptional() @IsDate() valueDate?: Date;

  constructor(
    account: string,
    amount: number,
    extra: { reference?: string; valueDate?: Date } = {},
  ) {
    this.account = account as StreamId;
    this.amount = amount;
    if (extra.reference !== undefined) this.reference = extra.reference;
    if (extra.valueDate !== undefined) this.valueDate = extra.valueDate;
  }

  initialState(): AccountState {
    return NO_ACCOUNT;
  }

  apply(state: AccountState, event: RecordedEvent<BankEvent>): AccountState {
    return evolveAccount(state, event);
  }

  handle(state: AccountState, ctx: CommandContext<BankEvent, Deposit>): void {
    ctx.require(state.open, 'the account is not open', BankRules.notOpen);
    ctx.emit('account', { type: 'Deposited', data: { amount: this.amount } });
  }
}

interface WithdrawState {
  readonly account: AccountState;
  readonly limit: number | undefined;
}

/**
 * Takes money out of an account. The bank's policy stream is read (its withdrawal limit applies)
 * but never written: it is the read-only participant of the boundary.
 */
@Command()
export class Withdraw implements CommandLogic<WithdrawState, BankEvent> {
  @Stream() account: StreamId;
  @Stream() policy: StreamId;
  @IsInt() @IsPositive() amount: number;

  constructor(account: string, amount: number, policy: string = BANK_POLICY) {
    this.account = account as StreamId;
    this.amount = amount;
    this.policy = policy as StreamId;
  }

  initialState(): WithdrawState {
    return { account: NO_ACCOUNT, limit: undefined };
  }

  apply(state: WithdrawState, event: RecordedEvent<BankEvent>): WithdrawState {
    if (event.streamId === this.policy) {
      return event.type === 'WithdrawalLimitSet'
        ? { ...state, limit: (event.data as { limit: number }).limit }
        : state;
    }
    return { ...state, account: evolveAccount(state.account, event) };
  }

  handle(state: WithdrawState, ctx: CommandContext<BankEvent, Withdraw>): void {
    ctx.require(state.account.open, 'the account is not open', BankRules.notOpen);
    ctx.require(
      state.limit === undefined || this.amount <= state.limit,
      `withdrawals are limited to ${state.limit}`,
      BankRules.limitExceeded,
    );
    ctx.require(
      state.account.balance >= this.amount,
      `insufficient funds: balance ${state.account.balance}, asked ${this.amount}`,
      BankRules.insufficientFunds,
    );
    ctx.emit('account', { type: 'Withdrawn', data: { amount: this.amount } });
  }
}

@Command()
export class SetWithdrawalLimit implements CommandLogic<null, BankEvent> {
  @Stream() policy: StreamId;
  @IsInt() @IsPositive() limit: number;

  constructor(limit: number, policy: string = BANK_POLICY) {
    this.limit = limit;
    this.policy = policy as StreamId;
  }

  initialState(): null {
    return null;
  }

  apply(state: null): null {
    return state;
  }

  handle(_state: null, ctx: CommandContext<BankEvent, SetWithdrawalLimit>): void {
    ctx.emit('policy', { type: 'WithdrawalLimitSet', data: { limit: this.limit } });
  }
}

type Accounts = Readonly<Record<string, AccountState>>;

/** Debits one account and credits another in one atomic append. */
@Command()
export class TransferMoney implements CommandLogic<Accounts, BankEvent> {
  @Stream() from: StreamId;
  @Stream() to: StreamId;
  @IsInt() @IsPositive() amount: number;
  @IsOptional() @IsString() @MaxLength(100) reference?: string;

  constructor(from: string, to: string, amount: number) {
    this.from = from as StreamId;
    this.to = to as StreamId;
    this.amount = amount;
  }

  initialState(): Accounts {
    return {};
  }

  apply(state: Accounts, event: RecordedEvent<BankEvent>): Accounts {
    return {
      ...state,
      [event.streamId]: evolveAccount(state[event.streamId] ?? NO_ACCOUNT, event),
    };
  }

  handle(state: Accounts, ctx: CommandContext<BankEvent, TransferMoney>): void {
    const from = state[this.from] ?? NO_ACCOUNT;
    const to = state[this.to] ?? NO_ACCOUNT;
    ctx.require(
      this.from !== this.to,
      'cannot transfer to the same account',
      BankRules.sameAccount,
    );
    ctx.require(from.open && to.open, 'both accounts must be open', BankRules.notOpen);
    ctx.require(
      from.balance >= this.amount,
      `insufficient funds: balance ${from.balance}, asked ${this.amount}`,
      BankRules.insufficientFunds,
    );
    ctx.emit('from', { type: 'Withdrawn', data: { amount: this.amount } });
    ctx.emit('to', { type: 'Deposited', data: { amount: this.amount } });
  }
}

// ---------------------------------------------------------------------------------------------
// Shop: an order discovers its product streams from its input
// ---------------------------------------------------------------------------------------------

export type ShopEvent =
  | DomainEvent<'StockAdded', { quantity: number }>
  | DomainEvent<'StockReserved', { orderId: string; quantity: number }>
  | DomainEvent<'OrderPlaced', { lines: { productId: string; quantity: number }[] }>;

export const ShopRules = {
  alreadyPlaced: 'order.already_placed',
  outOfStock: 'product.out_of_stock',
} as const;

export function productStream(productId: string): StreamId {
  return streamId(`product-${productId}`);
}

export class OrderLine {
  @Matches(/^[a-z0-9-]{1,50}$/) productId: string;
  @IsInt() @IsPositive() quantity: number;

  constructor(productId: string, quantity: number) {
    this.productId = productId;
    this.quantity = quantity;
  }
}

interface ShopState {
  readonly placed: boolean;
  readonly stock: Readonly<Record<string, number>>;
}

/**
 * Places an order: its only declared stream is the order; the product streams are discovered
 * from the lines, read and folded, then reserved in the same atomic append.
 */
@Command()
export class PlaceOrder implements CommandLogic<ShopState, ShopEvent> {
  @Stream() order: StreamId;
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  lines: OrderLine[];

  constructor(order: string, lines: readonly (readonly [string, number])[]) {
    this.order = order as StreamId;
    this.lines = lines.map(([productId, quantity]) => new OrderLine(productId, quantity));
  }

  initialState(): ShopState {
    return { placed: false, stock: {} };
  }

  apply(state: ShopState, event: RecordedEvent<ShopEvent>): ShopState {
    const stock = state.stock[event.streamId] ?? 0;
    const quantity = (event.data as { quantity?: number }).quantity ?? 0;
    switch (event.type) {
      case 'OrderPlaced':
        return { ...state, placed: true };
      case 'StockAdded':
        return { ...state, stock: { ...state.stock, [event.streamId]: stock + quantity } };
      case 'StockReserved':
        return { ...state, stock: { ...state.stock, [event.streamId]: stock - quantity } };
      default:
        return state;
    }
  }

  handle(state: ShopState, ctx: CommandContext<ShopEvent, PlaceOrder>): void {
    ctx.discover(...this.lines.map((line) => productStream(line.productId)));
    ctx.require(!state.placed, 'the order is already placed', ShopRules.alreadyPlaced);
    for (const line of this.lines) {
      const available = state.stock[productStream(line.productId)] ?? 0;
      ctx.require(
        available >= line.quantity,
        `only ${available} of ${line.productId} in stock`,
        ShopRules.outOfStock,
      );
    }
    for (const line of this.lines) {
      ctx.emitTo(productStream(line.productId), {
        type: 'StockReserved',
        data: { orderId: this.order, quantity: line.quantity },
      });
    }
    ctx.emit('order', {
      type: 'OrderPlaced',
      data: { lines: this.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })) },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Store helpers
// ---------------------------------------------------------------------------------------------

/** Appends events to a stream with no version check (test setup, bypassing any executor). */
export async function seed(
  store: EventStore,
  stream: string,
  ...events: DomainEvent[]
): Promise<AppendResult> {
  return store.append([
    { streamId: stream as StreamId, expected: ExpectedVersion.any, events: events.map(toAppend) },
  ]);
}

export function toAppend(event: DomainEvent): EventToAppend {
  return {
    id: newEventId(),
    type: event.type,
    data: event.data,
    metadata: { correlationId: 'seed', causationId: 'seed', userId: null, custom: {} },
    occurredAt: new Date().toISOString(),
  };
}

/** Hooks run before the wrapped store is called; `call` counts from 1 per operation. */
export interface SpyStoreHooks {
  beforeRead?(streamIds: readonly StreamId[], call: number): unknown;
  /** Runs once the wrapped store has answered read number `call`. */
  afterRead?(streamIds: readonly StreamId[], call: number): unknown;
  beforeAppend?(writes: readonly StreamWrite[], call: number): unknown;
}

/**
 * Wraps a store (an {@link InMemoryEventStore} by default), records every `readStreams` and
 * `append` call, and awaits the hooks before delegating — so a test can move a stream between a
 * command's read and its append, fail a call, or hold it forever.
 */
export class SpyStore implements EventStore {
  readonly reads: StreamId[][] = [];
  readonly appends: StreamWrite[][] = [];
  hooks: SpyStoreHooks = {};

  constructor(readonly inner: EventStore = new InMemoryEventStore()) {}

  async readStreams(streamIds: readonly StreamId[]): Promise<ReadStreamsResult> {
    this.reads.push([...streamIds]);
    const call = this.reads.length;
    await this.hooks.beforeRead?.(streamIds, call);
    const result = await this.inner.readStreams(streamIds);
    await this.hooks.afterRead?.(streamIds, call);
    return result;
  }

  async append(writes: readonly StreamWrite[]): Promise<AppendResult> {
    this.appends.push([...writes]);
    await this.hooks.beforeAppend?.(writes, this.appends.length);
    return this.inner.append(writes);
  }

  readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    return this.inner.readAll(options);
  }

  comparePositions(a: Position, b: Position): number {
    return this.inner.comparePositions(a, b);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Forgets the recorded calls (e.g. after seeding through the wrapper). */
  reset(): void {
    this.reads.length = 0;
    this.appends.length = 0;
  }

  /** Every event of the store, in global order (bypasses the recording). */
  async allEvents(): Promise<readonly RecordedEvent[]> {
    return (await this.inner.readAll({ limit: 10_000 })).events;
  }
}
