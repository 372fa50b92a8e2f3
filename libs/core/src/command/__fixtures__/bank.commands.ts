/**
 * Shared fixtures of the executor's tests. The money domain is the bank sample's
 * (apps/bank/src/accounts; docs/decisions.md, "The sample money domain lives once"): re-exported
 * here, never redeclared. Beside it, what the bank does not have: a withdrawal limited by a policy
 * stream it only reads, a deposit with two optional fields, a shop whose orders discover their
 * product streams at run time, and an event store wrapper that records every call and lets a test
 * act between a read and an append.
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
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { Deposit } from '../../../../../apps/bank/src/accounts/bank.commands';
import {
  type AccountState,
  type BankEvent,
  BankRules,
  closedAccount,
  evolveAccount,
} from '../../../../../apps/bank/src/accounts/bank.events';
import type { DomainEvent, EventToAppend, RecordedEvent } from '../../events/event';
import { newEventId } from '../../events/event-id';
import { InMemoryEventStore } from '../../memory/in-memory.event-store';
import type {
  AppendOptions,
  EventQuery,
  EventQueryReadOptions,
  EventQueryReadResult,
} from '../../store/event-query';
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

export {
  Deposit,
  OpenAccount,
  TransferMoney,
  Withdraw,
} from '../../../../../apps/bank/src/accounts/bank.commands';
export {
  type AccountState,
  accountStream,
  type BankEvent,
  BankRules,
  closedAccount,
  evolveAccount,
} from '../../../../../apps/bank/src/accounts/bank.events';

// ---------------------------------------------------------------------------------------------
// Bank helpers and test-only commands built on the bank's events and state
// ---------------------------------------------------------------------------------------------

/** The balance of an account after each of its events, in order (to check "never negative"). */
export function runningBalances(events: readonly RecordedEvent[]): number[] {
  let state = closedAccount;
  return events.map(
    (event) => (state = evolveAccount(state, event as RecordedEvent<BankEvent>)).balance,
  );
}

/**
 * The bank's deposit with two optional fields the sample does not need: a free-text reference
 * (validated, so that a test can fail two properties at once) and a value date (a Date input must
 * count in the idempotency fingerprint).
 */
@Command()
export class AnnotatedDeposit extends Deposit {
  @IsOptional() @IsString() @MaxLength(100) reference?: string;
  @IsOptional() @IsDate() valueDate?: Date;

  constructor(
    account: StreamId,
    amount: number,
    extra: { reference?: string; valueDate?: Date } = {},
  ) {
    super(account, amount);
    if (extra.reference !== undefined) this.reference = extra.reference;
    if (extra.valueDate !== undefined) this.valueDate = extra.valueDate;
  }
}

/** The event of the bank-wide policy stream: not money, so not part of the bank's events. */
export type PolicyEvent = DomainEvent<'WithdrawalLimitSet', { limit: number }>;

/** Stable rule identifier of {@link LimitedWithdraw}'s policy check. */
export const PolicyRules = { limitExceeded: 'policy.limit_exceeded' } as const;

/** The bank-wide stream holding the withdrawal limit: a read-only participant of `LimitedWithdraw`. */
export const BANK_POLICY = streamId('bank-policy');

interface LimitedWithdrawState {
  readonly account: AccountState;
  readonly limit: number | undefined;
}

/**
 * Takes money out of an account, within a limit read from the policy stream, which it never
 * writes: the read-only participant of its boundary (the bank's own `Withdraw` has none).
 */
@Command()
export class LimitedWithdraw implements CommandLogic<
  LimitedWithdrawState,
  BankEvent | PolicyEvent
> {
  @Stream() account: StreamId;
  @Stream() policy: StreamId;
  @IsInt() @IsPositive() amount: number;

  constructor(account: StreamId, amount: number, policy: StreamId = BANK_POLICY) {
    this.account = account;
    this.amount = amount;
    this.policy = policy;
  }

  initialState(): LimitedWithdrawState {
    return { account: closedAccount, limit: undefined };
  }

  apply(
    state: LimitedWithdrawState,
    event: RecordedEvent<BankEvent | PolicyEvent>,
  ): LimitedWithdrawState {
    if (event.streamId === this.policy) {
      return event.type === 'WithdrawalLimitSet'
        ? { ...state, limit: (event.data as { limit: number }).limit }
        : state;
    }
    return { ...state, account: evolveAccount(state.account, event as RecordedEvent<BankEvent>) };
  }

  handle(
    state: LimitedWithdrawState,
    ctx: CommandContext<BankEvent | PolicyEvent, LimitedWithdraw>,
  ): void {
    ctx.require(state.account.opened, 'the account does not exist', BankRules.accountNotFound);
    ctx.require(
      state.limit === undefined || this.amount <= state.limit,
      `withdrawals are limited to ${state.limit}`,
      PolicyRules.limitExceeded,
    );
    ctx.require(
      state.account.balance >= this.amount,
      `insufficient funds: balance ${state.account.balance}, asked ${this.amount}`,
      BankRules.insufficientFunds,
    );
    ctx.emit('account', { type: 'MoneyWithdrawn', data: { amount: this.amount } });
  }
}

/** Sets the limit that {@link LimitedWithdraw} reads. */
@Command()
export class SetWithdrawalLimit implements CommandLogic<null, PolicyEvent> {
  @Stream() policy: StreamId;
  @IsInt() @IsPositive() limit: number;

  constructor(limit: number, policy: StreamId = BANK_POLICY) {
    this.limit = limit;
    this.policy = policy;
  }

  initialState(): null {
    return null;
  }

  apply(state: null): null {
    return state;
  }

  handle(_state: null, ctx: CommandContext<PolicyEvent, SetWithdrawalLimit>): void {
    ctx.emit('policy', { type: 'WithdrawalLimitSet', data: { limit: this.limit } });
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

  async append(writes: readonly StreamWrite[], options?: AppendOptions): Promise<AppendResult> {
    this.appends.push([...writes]);
    await this.hooks.beforeAppend?.(writes, this.appends.length);
    return this.inner.append(writes, options);
  }

  read(query: EventQuery, options?: EventQueryReadOptions): Promise<EventQueryReadResult> {
    return this.inner.read(query, options);
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
