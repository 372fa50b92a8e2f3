import type { RecordedEvent } from '@eventcore/core';
import {
  type AccountBalance,
  accountIdOf,
  balanceChange,
  type BalanceReadModel,
  openedBy,
} from './balance-read-model';

interface Row extends AccountBalance {
  /** Global position of the last event applied, so a redelivered event is recognised and skipped. */
  readonly appliedUpTo: number;
}

/**
 * Balances in process memory, for the in-memory event store. Checkpoints are then not
 * transactional, so a batch can be delivered again after a failure (at-least-once): each row
 * remembers the last position it applied, which makes `apply` idempotent.
 */
export class InMemoryBalanceReadModel implements BalanceReadModel {
  private readonly rows = new Map<string, Row>();

  /** Process memory needs no tables. */
  async setup(): Promise<void> {}

  async applyBatch(events: readonly RecordedEvent[]): Promise<void> {
    for (const event of events) this.apply(event);
  }

  private apply(event: RecordedEvent): void {
    const id = accountIdOf(event);
    const row = this.rows.get(id);
    if (row !== undefined && event.globalPosition <= row.appliedUpTo) return;
    this.rows.set(id, {
      id,
      owner: openedBy(event) ?? row?.owner ?? '',
      balance: (row?.balance ?? 0) + balanceChange(event),
      appliedUpTo: event.globalPosition,
    });
  }

  async reset(): Promise<void> {
    this.rows.clear();
  }

  async list(): Promise<AccountBalance[]> {
    return [...this.rows.values()]
      .map(({ id, owner, balance }) => ({ id, owner, balance }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async total(): Promise<number> {
    let total = 0;
    for (const row of this.rows.values()) total += row.balance;
    return total;
  }
}
