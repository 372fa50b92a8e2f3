import type { RecordedEvent } from '@eventcore/core';
import type { BankEvent } from '../accounts/bank.events';

/** One row of the balances read model. */
export interface AccountBalance {
  readonly id: string;
  readonly owner: string;
  readonly balance: number;
}

/** Injection token of the {@link BalanceReadModel} the bank uses. */
export const BALANCE_READ_MODEL = 'BANK:BALANCE_READ_MODEL';

/**
 * Where the balances projection keeps accounts and the bank's total. `tx` is the checkpoint
 * store's transaction: the SQL implementation writes through it (exactly-once), the in-memory one
 * ignores it (and is idempotent instead, since delivery is then at-least-once).
 */
export interface BalanceReadModel {
  /** Creates the storage if needed (idempotent), in the projection's setup transaction `tx`. */
  setup(tx: unknown): Promise<void>;
  /** Applies a batch of events (in log order) through the checkpoint transaction `tx`. */
  applyBatch(events: readonly RecordedEvent[], tx: unknown): Promise<void>;
  /** Empties the read model (rebuild), in the checkpoint reset's transaction. */
  reset(tx: unknown): Promise<void>;
  /** Every account, by id. */
  list(): Promise<AccountBalance[]>;
  /** The sum of every balance (constant under transfers). */
  total(): Promise<number>;
}

/** The balance change an event makes. */
export function balanceChange(event: RecordedEvent): number {
  const bank = event as RecordedEvent<BankEvent>;
  switch (bank.type) {
    case 'MoneyDeposited':
    case 'MoneyTransferredIn':
      return bank.data.amount;
    case 'MoneyWithdrawn':
    case 'MoneyTransferredOut':
      return -bank.data.amount;
    default:
      return 0;
  }
}

/** The owner an `AccountOpened` event names, else undefined. */
export function openedBy(event: RecordedEvent): string | undefined {
  const bank = event as RecordedEvent<BankEvent>;
  return bank.type === 'AccountOpened' ? bank.data.owner : undefined;
}

/** The account id of an `account-<id>` stream. */
export function accountIdOf(event: RecordedEvent): string {
  return event.streamId.slice('account-'.length);
}
