import {
  Command,
  type CommandContext,
  type CommandLogic,
  type RecordedEvent,
  Stream,
  type StreamId,
} from '@eventcore/core';

type Deposited = { type: 'MoneyDeposited'; data: { amount: number } };

/**
 * A deposit deciding on the balance, for the cold-command benches: a plain-object state, so it can
 * be snapshotted, and no opening event, so it runs on a stream of bare deposits.
 */
@Command({ name: 'ColdDeposit', validate: false })
export class ColdDeposit implements CommandLogic<{ balance: number }, Deposited> {
  @Stream() account: StreamId;

  constructor(account: StreamId) {
    this.account = account;
  }

  initialState() {
    return { balance: 0 };
  }

  apply(state: { balance: number }, event: RecordedEvent<Deposited>) {
    return { balance: state.balance + event.data.amount };
  }

  handle(state: { balance: number }, ctx: CommandContext<Deposited, ColdDeposit>): void {
    ctx.require(state.balance < Number.MAX_SAFE_INTEGER, 'the balance is full');
    ctx.emit('account', { type: 'MoneyDeposited', data: { amount: 1 } });
  }
}
