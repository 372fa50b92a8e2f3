import {
  Command,
  type CommandContext,
  type CommandLogic,
  type RecordedEvent,
  Stream,
  type StreamId,
} from '@eventcore/core';
import { IsInt, IsPositive, IsString, Length, Max } from 'class-validator';
import {
  type AccountState,
  BankRules,
  type BankEvent,
  closedAccount,
  evolveAccount,
} from './bank.events';

/** Largest amount of one operation, in cents; keeps every balance a safe integer. */
export const MAX_AMOUNT = 1_000_000_000_00;

/**
 * What every single-account command shares: the state of its one account, folded from its stream.
 * Each concrete command is decorated with `@Command()` itself.
 */
abstract class AccountCommand implements CommandLogic<AccountState, BankEvent> {
  abstract readonly account: StreamId;

  initialState(): AccountState {
    return closedAccount;
  }

  apply(state: AccountState, event: RecordedEvent<BankEvent>): AccountState {
    return evolveAccount(state, event);
  }

  abstract handle(state: AccountState, ctx: CommandContext<BankEvent>): void;
}

/** Opens an account; refused if the stream already holds one. */
@Command()
export class OpenAccount extends AccountCommand {
  @Stream() account: StreamId;
  @IsString() @Length(1, 100) owner: string;

  constructor(account: StreamId, owner: string) {
    super();
    this.account = account;
    this.owner = owner;
  }

  handle(state: AccountState, ctx: CommandContext<BankEvent, OpenAccount>): void {
    ctx.require(!state.opened, 'the account already exists', BankRules.accountExists);
    ctx.emit('account', { type: 'AccountOpened', data: { owner: this.owner } });
  }
}

/** Puts money into an open account. */
@Command()
export class Deposit extends AccountCommand {
  @Stream() account: StreamId;
  @IsInt() @IsPositive() @Max(MAX_AMOUNT) amount: number;

  constructor(account: StreamId, amount: number) {
    super();
    this.account = account;
    this.amount = amount;
  }

  handle(state: AccountState, ctx: CommandContext<BankEvent, Deposit>): void {
    ctx.require(state.opened, 'the account does not exist', BankRules.accountNotFound);
    ctx.emit('account', { type: 'MoneyDeposited', data: { amount: this.amount } });
  }
}

/** Takes money out of an account that holds enough. */
@Command()
export class Withdraw extends AccountCommand {
  @Stream() account: StreamId;
  @IsInt() @IsPositive() @Max(MAX_AMOUNT) amount: number;

  constructor(account: StreamId, amount: number) {
    super();
    this.account = account;
    this.amount = amount;
  }

  handle(state: AccountState, ctx: CommandContext<BankEvent, Withdraw>): void {
    ctx.require(state.opened, 'the account does not exist', BankRules.accountNotFound);
    ctx.require(state.balance >= this.amount, 'insufficient funds', BankRules.insufficientFunds);
    ctx.emit('account', { type: 'MoneyWithdrawn', data: { amount: this.amount } });
  }
}

type Accounts = Readonly<Record<string, AccountState>>;

/**
 * Moves money between two accounts in one atomic append: both streams are read, both are
 * written, no saga.
 */
@Command()
export class TransferMoney implements CommandLogic<Accounts, BankEvent> {
  @Stream() from: StreamId;
  @Stream() to: StreamId;
  @IsInt() @IsPositive() @Max(MAX_AMOUNT) amount: number;

  constructor(from: StreamId, to: StreamId, amount: number) {
    this.from = from;
    this.to = to;
    this.amount = amount;
  }

  initialState(): Accounts {
    return {};
  }

  apply(state: Accounts, event: RecordedEvent<BankEvent>): Accounts {
    return {
      ...state,
      [event.streamId]: evolveAccount(state[event.streamId] ?? closedAccount, event),
    };
  }

  handle(state: Accounts, ctx: CommandContext<BankEvent, TransferMoney>): void {
    const from = state[this.from] ?? closedAccount;
    const to = state[this.to] ?? closedAccount;
    ctx.require(
      this.from !== this.to,
      'cannot transfer to the same account',
      BankRules.sameAccount,
    );
    ctx.require(from.opened, 'the source account does not exist', BankRules.accountNotFound);
    ctx.require(to.opened, 'the target account does not exist', BankRules.accountNotFound);
    ctx.require(from.balance >= this.amount, 'insufficient funds', BankRules.insufficientFunds);
    ctx.emit('from', { type: 'MoneyTransferredOut', data: { to: this.to, amount: this.amount } });
    ctx.emit('to', { type: 'MoneyTransferredIn', data: { from: this.from, amount: this.amount } });
  }
}
