import { type DynamicModule, Module } from '@nestjs/common';
import { AccountBalancesProjection } from './account-balances.projection';
import { BALANCE_READ_MODEL, type BalanceReadModel } from './balance-read-model';
import { ProjectionsController } from './projections.controller';
import { ReadModelController } from './read-model.controller';

/** The balances read model, its projection and the projections' admin endpoints. */
@Module({})
export class ReadModelModule {
  /** `balances`: where the projection keeps its rows (SQL tables or process memory). */
  static forRoot(balances: BalanceReadModel): DynamicModule {
    return {
      module: ReadModelModule,
      controllers: [ReadModelController, ProjectionsController],
      providers: [{ provide: BALANCE_READ_MODEL, useValue: balances }, AccountBalancesProjection],
    };
  }
}
