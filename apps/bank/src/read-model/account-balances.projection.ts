import type { RecordedEvent } from '@eventcore/core';
import { Projection, ProjectionHost } from '@eventcore/nestjs';
import type { BankEvent } from '../accounts/bank.events';

/** One row of the balances read model. */
export interface AccountBalance {
  readonly id: string;
  readonly owner: string;
  readonly balance: number;
}

interface Row extends AccountBalance {
  /** Global position of the last event applied, so a replayed event is recognised and skipped. */
  readonly appliedUpTo: number;
}

const PREFIX = 'account-';

/**
 * Balances per account and the bank's total, kept in memory. Checkpoints here are not transactional,
 * so a batch can be delivered again after a failure (at-least-once): each row remembers the last
 * position it applied, which makes `handle` idempotent. A PostgreSQL read model committed with the
 * checkpoint (exactly-once) replaces this later.
 */
@Projection({ name: 'account-balances', streams: [PREFIX] })
export class AccountBalancesProjection extends ProjectionHost {
  private readonly rows = new Map<string, Row>();

  /** Every account, by id. */
  list(): AccountBalance[] {
    return [...this.rows.values()]
      .map(({ id, owner, balance }) => ({ id, owner, balance }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The sum of every balance (constant under transfers). */
  total(): number {
    let total = 0;
    for (const row of this.rows.values()) total += row.balance;
    return total;
  }

  handle(event: RecordedEvent): void {
    const id = event.streamId.slice(PREFIX.length);
    const row = this.rows.get(id);
    if (row !== undefined && event.globalPosition <= row.appliedUpTo) return;
    const bank = event as RecordedEvent<BankEvent>;
    const owner =
      bank.type === 'AccountOpened' ? (bank.data as { owner: string }).owner : (row?.owner ?? '');
    this.rows.set(id, {
      id,
      owner,
      balance: (row?.balance ?? 0) + change(bank),
      appliedUpTo: event.globalPosition,
    });
  }

  override reset(): void {
    this.rows.clear();
  }
}

function change(event: RecordedEvent<BankEvent>): number {
  switch (event.type) {
    case 'MoneyDeposited':
    case 'MoneyTransferredIn':
      return (event.data as { amount: number }).amount;
    case 'MoneyWithdrawn':
    case 'MoneyTransferredOut':
      return -(event.data as { amount: number }).amount;
    default:
      return 0;
  }
}
