import {
  type BeforeApplicationShutdown,
  Inject,
  Logger,
  Module,
  type Provider,
} from '@nestjs/common';
import { CommandExecutor, type EventStore, InMemoryEventStore } from '@eventcore/core';
import { CommandBus } from './command-bus';
import { EVENTCORE_COMMAND_EXECUTOR, EVENTCORE_EVENT_STORE } from './eventcore.constants';
import type { EventCoreModuleOptions } from './eventcore-module.options';
import {
  ConfigurableEventCoreModule,
  EVENTCORE_MODULE_OPTIONS,
} from './eventcore.module-definition';

const providers: Provider[] = [
  {
    provide: EVENTCORE_EVENT_STORE,
    inject: [EVENTCORE_MODULE_OPTIONS],
    useFactory: (options: EventCoreModuleOptions): EventStore =>
      options.eventStore ?? new InMemoryEventStore(),
  },
  {
    provide: EVENTCORE_COMMAND_EXECUTOR,
    inject: [EVENTCORE_EVENT_STORE, EVENTCORE_MODULE_OPTIONS],
    // The executor validates its options here, so a bad configuration fails at startup.
    useFactory: (store: EventStore, options: EventCoreModuleOptions) =>
      new CommandExecutor(store, options.executor),
  },
  CommandBus,
];

/**
 * EventCore for Nest: `EventCoreModule.forRoot({ eventStore })` (or `forRootAsync`) provides the
 * {@link CommandBus} and the event store, and closes the store on shutdown.
 */
@Module({ providers, exports: [CommandBus, EVENTCORE_EVENT_STORE, EVENTCORE_COMMAND_EXECUTOR] })
export class EventCoreModule
  extends ConfigurableEventCoreModule
  implements BeforeApplicationShutdown
{
  private readonly logger = new Logger('EventCore');

  constructor(
    @Inject(EVENTCORE_EVENT_STORE) private readonly store: EventStore,
    @Inject(EVENTCORE_MODULE_OPTIONS) private readonly options: EventCoreModuleOptions,
  ) {
    super();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.options.closeStoreOnShutdown === false) return;
    try {
      await this.store.close();
    } catch (error) {
      this.logger.error(`Closing the event store failed: ${(error as Error).message}`);
    }
  }
}
