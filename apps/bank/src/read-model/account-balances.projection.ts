import { Inject } from '@nestjs/common';
import type { ProjectionContext, RecordedEvent } from '@eventcore/core';
import { Projection, ProjectionHost } from '@eventcore/nestjs';
import {
  type AccountBalance,
  BALANCE_READ_MODEL,
  type BalanceReadModel,
} from './balance-read-model';

export type { AccountBalance } from './balance-read-model';

/**
 * Balances per account and the bank's total. The read model is PostgreSQL tables written through
 * the checkpoint transaction (exactly-once) when the bank runs on PostgreSQL or PGlite, and process
 * memory (at-least-once, idempotent) with the in-memory store; see `BalanceReadModel`.
 */
@Projection({
  name: 'account-balances',
  streams: ['account-'],
  // Recommended: while live, a short batch waits up to 5 ms for more deposits, so one transaction
  // (one WAL flush) serves a burst of commands instead of one each. Catch-up never waits.
  batchWindowMs: 5,
})
export class AccountBalancesProjection extends ProjectionHost {
  constructor(@Inject(BALANCE_READ_MODEL) private readonly readModel: BalanceReadModel) {
    super();
  }

  /** Every account, by id. */
  list(): Promise<AccountBalance[]> {
    return this.readModel.list();
  }

  /** The sum of every balance (constant under transfers). */
  total(): Promise<number> {
    return this.readModel.total();
  }

  handle(event: RecordedEvent, context: ProjectionContext): Promise<void> {
    return this.readModel.applyBatch([event], context.tx);
  }

  /** The worker hands over whole batches: the SQL read model writes each in two statements. */
  override handleBatch(
    events: readonly RecordedEvent[],
    context: ProjectionContext,
  ): Promise<void> {
    return this.readModel.applyBatch(events, context.tx);
  }

  /** Creates the read model's tables before the first batch (see `SqlBalanceReadModel.setup`). */
  override setup(context: ProjectionContext): Promise<void> {
    return this.readModel.setup(context.tx);
  }

  override reset(context: ProjectionContext): Promise<void> {
    return this.readModel.reset(context.tx);
  }
}
