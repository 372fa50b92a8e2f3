import type { EventStore, ExecutorOptions } from '@eventcore/core';

/** Options of `EventCoreModule.forRoot` / `forRootAsync`. */
export interface EventCoreModuleOptions {
  /**
   * Where events are stored. Build it in `forRootAsync`'s `useFactory` when it needs configuration
   * (e.g. a PostgreSQL store from `ConfigService`).
   * @default a new in-memory store (nothing survives a restart)
   */
  readonly eventStore?: EventStore;
  /** Defaults for every command: retry policy, discovery cap, validation, clock. */
  readonly executor?: ExecutorOptions;
  /**
   * Close the event store when the application shuts down. Turn it off when the store is shared
   * with something that outlives the module.
   * @default true
   */
  readonly closeStoreOnShutdown?: boolean;
}
