import { Module } from '@nestjs/common';
import { AccountBalancesProjection } from './account-balances.projection';
import { ProjectionsController } from './projections.controller';
import { ReadModelController } from './read-model.controller';

/** The balances read model, its projection and the projections' admin endpoints. */
@Module({
  controllers: [ReadModelController, ProjectionsController],
  providers: [AccountBalancesProjection],
})
export class ReadModelModule {}
