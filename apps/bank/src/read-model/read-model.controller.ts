import { Controller, Get, Query } from '@nestjs/common';
import type { Position } from '@eventcore/core';
import { invalidRequest, ProjectionRegistry } from '@eventcore/nestjs';
import { type AccountBalance, AccountBalancesProjection } from './account-balances.projection';
import { ReadModelQueryDto } from './read-model.dto';

/** What `GET /read-model/accounts` answers. */
export interface AccountsReadModel {
  readonly accounts: readonly AccountBalance[];
  readonly total: number;
  /** The read model's checkpoint: it reflects every event up to here. */
  readonly position: string | null;
}

/** Reads from the balances read model, eventually or strongly consistent. */
@Controller('read-model')
export class ReadModelController {
  constructor(
    private readonly balances: AccountBalancesProjection,
    private readonly projections: ProjectionRegistry,
  ) {}

  /** `?consistency=strong&position=<token>` waits (up to `timeoutMs`, then 503) for your own write. */
  @Get('accounts')
  async accounts(@Query() query: ReadModelQueryDto): Promise<AccountsReadModel> {
    if (query.consistency === 'strong') {
      if (query.position === undefined) {
        throw invalidRequest([
          {
            property: 'position',
            constraints: {
              required: 'consistency=strong needs the position your write answered with',
            },
          },
        ]);
      }
      await this.projections.waitFor(query.position as Position, {
        projections: ['account-balances'],
        timeoutMs: query.timeoutMs,
      });
    }
    // The position first: the rows read after it reflect at least every event up to it.
    const position = this.projections.get('account-balances').position;
    const [accounts, total] = await Promise.all([this.balances.list(), this.balances.total()]);
    return { accounts, total, position };
  }
}
