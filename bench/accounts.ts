import {
  Command,
  type EventStore,
  type EventToAppend,
  ExpectedVersion,
  newEventId,
  type StreamId,
} from '@eventcore/core';
import { Deposit } from '../apps/bank/src/accounts/bank.commands';
import type { BankEvent } from '../apps/bank/src/accounts/bank.events';

export { Deposit, TransferMoney } from '../apps/bank/src/accounts/bank.commands';
export { accountStream } from '../apps/bank/src/accounts/bank.events';

/** The bank's deposit without class-validator: what validation costs, by difference. */
@Command({ name: 'UnvalidatedDeposit', validate: false })
export class UnvalidatedDeposit extends Deposit {}

/** One of the bank's events as the store takes it, with bench metadata. */
export function bankEvent(event: BankEvent): EventToAppend {
  return {
    id: newEventId(),
    type: event.type,
    data: event.data,
    metadata: { correlationId: 'bench', causationId: 'bench', userId: null, custom: {} },
    occurredAt: new Date().toISOString(),
  };
}

/**
 * Writes what opening each account and depositing `balance` into it would write, straight to the
 * store and in few appends: the bank's commands need open (and, to transfer, funded) accounts, and
 * setting them up is not what a scenario measures. Accounts already in `opened` are skipped, and
 * the new ones are added to it.
 */
export async function openAccounts(
  store: EventStore,
  accounts: readonly StreamId[],
  balance: number,
  opened: Set<StreamId> = new Set(),
): Promise<void> {
  const fresh = [...new Set(accounts)].filter((id) => !opened.has(id));
  for (let i = 0; i < fresh.length; i += 200) {
    await store.append(
      fresh.slice(i, i + 200).map((id) => ({
        streamId: id,
        expected: ExpectedVersion.noStream,
        events: [
          bankEvent({ type: 'AccountOpened', data: { owner: id } }),
          ...(balance > 0
            ? [bankEvent({ type: 'MoneyDeposited', data: { amount: balance } })]
            : []),
        ],
      })),
    );
  }
  for (const id of fresh) opened.add(id);
}
