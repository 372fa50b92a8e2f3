import {
  Command,
  type CommandContext,
  type CommandLogic,
  type EventStore,
  type EventToAppend,
  ExpectedVersion,
  newEventId,
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

/** A bare deposit of 1, as the cold-command benches fill their streams with. */
export function deposited(): EventToAppend {
  return {
    id: newEventId(),
    type: 'MoneyDeposited',
    data: { amount: 1 },
    metadata: { correlationId: 'bench', causationId: 'bench', userId: null, custom: {} },
    occurredAt: new Date().toISOString(),
  };
}

/** Appends `count` deposits to a stream that holds `version` events, 5,000 an append (not measured). */
export async function appendDeposits(
  store: EventStore,
  id: StreamId,
  count: number,
  version = 0,
): Promise<void> {
  for (let done = 0; done < count; done += 5_000) {
    await store.append([
      {
        streamId: id,
        expected: ExpectedVersion.exact(version + done),
        events: Array.from({ length: Math.min(5_000, count - done) }, deposited),
      },
    ]);
  }
}
