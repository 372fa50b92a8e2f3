import { type DynamicModule, Module } from '@nestjs/common';
import type { EventStore } from '@eventcore/core';
import { EventCoreModule } from '@eventcore/nestjs';
import { AccountsModule } from './accounts/accounts.module';
import { HealthModule } from './health/health.module';
import { ReadModelModule } from './read-model/read-model.module';

/** Options of the sample bank. */
export interface BankAppOptions {
  /** @default an in-memory store */
  readonly eventStore?: EventStore;
}

/** The sample bank application. */
@Module({})
export class BankAppModule {
  static forRoot(options: BankAppOptions = {}): DynamicModule {
    return {
      module: BankAppModule,
      imports: [
        EventCoreModule.forRoot({ eventStore: options.eventStore }),
        AccountsModule,
        ReadModelModule,
        HealthModule,
      ],
    };
  }
}
