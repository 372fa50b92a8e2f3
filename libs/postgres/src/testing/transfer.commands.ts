import 'reflect-metadata';
import {
  Command,
  type CommandContext,
  type CommandLogic,
  type RecordedEvent,
  Stream,
  type StreamId,
} from '@eventcore/core';
import { IsInt, IsPositive } from 'class-validator';

/** Events of the test bank. */
export type MoneyEvent =
  | { type: 'Deposited'; data: { amount: number } }
  | { type: 'Withdrawn'; data: { amount: number } }
  | { type: 'PolicyChanged'; data: { maxTransfer: number } };

/** The balance change an event makes (0 for non-money events). */
export function delta(event: RecordedEvent): number {
  const amount = (event.data as { amount?: number }).amount ?? 0;
  return event.type === 'Deposited' ? amount : event.type === 'Withdrawn' ? -amount : 0;
}

/** Puts money into one account. */
@Command({ name: 'TestDeposit' })
export class TestDeposit implements CommandLogic<number, MoneyEvent> {
  @Stream() account: StreamId;
  @IsInt() @IsPositive() amount: number;
  constructor(account: StreamId, amount: number) {
    this.account = account;
    this.amount = amount;
  }
  initialState(): number {
    return 0;
  }
  apply(balance: number, event: RecordedEvent<MoneyEvent>): number {
    return balance + delta(event);
  }
  handle(_balance: number, ctx: CommandContext<MoneyEvent, TestDeposit>): void {
    ctx.emit('account', { type: 'Deposited', data: { amount: this.amount } });
  }
}

/** Moves money between two accounts atomically; refuses to overdraw. */
@Command({ name: 'TransferMoney' })
export class TransferMoney implements CommandLogic<Map<string, number>, MoneyEvent> {
  @Stream() from: StreamId;
  @Stream() to: StreamId;
  @IsInt() @IsPositive() amount: number;
  constructor(from: StreamId, to: StreamId, amount: number) {
    this.from = from;
    this.to = to;
    this.amount = amount;
  }
  initialState(): Map<string, number> {
    return new Map();
  }
  apply(state: Map<string, number>, event: RecordedEvent<MoneyEvent>): Map<string, number> {
    return state.set(event.streamId, (state.get(event.streamId) ?? 0) + delta(event));
  }
  handle(state: Map<string, number>, ctx: CommandContext<MoneyEvent, TransferMoney>): void {
    ctx.require(this.from !== this.to, 'cannot transfer to the same account');
    ctx.require(
      (state.get(this.from) ?? 0) >= this.amount,
      'insufficient funds',
      'account.insufficient_funds',
    );
    ctx.emit('from', { type: 'Withdrawn', data: { amount: this.amount } });
    ctx.emit('to', { type: 'Deposited', data: { amount: this.amount } });
  }
}

/** Withdraws within a limit read from a policy stream it never writes (a read-only participant). */
@Command({ name: 'LimitedWithdraw' })
export class LimitedWithdraw implements CommandLogic<{ balance: number; max: number }, MoneyEvent> {
  @Stream() account: StreamId;
  @Stream() policy: StreamId;
  @IsInt() @IsPositive() amount: number;
  constructor(account: StreamId, policy: StreamId, amount: number) {
    this.account = account;
    this.policy = policy;
    this.amount = amount;
  }
  initialState() {
    return { balance: 0, max: 0 };
  }
  apply(state: { balance: number; max: number }, event: RecordedEvent<MoneyEvent>) {
    if (event.type === 'PolicyChanged')
      return { ...state, max: (event.data as { maxTransfer: number }).maxTransfer };
    return { ...state, balance: state.balance + delta(event) };
  }
  handle(
    state: { balance: number; max: number },
    ctx: CommandContext<MoneyEvent, LimitedWithdraw>,
  ): void {
    ctx.require(this.amount <= state.max, 'above the policy limit', 'policy.limit_exceeded');
    ctx.require(state.balance >= this.amount, 'insufficient funds', 'account.insufficient_funds');
    ctx.emit('account', { type: 'Withdrawn', data: { amount: this.amount } });
  }
}
