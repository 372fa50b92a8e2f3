import type {
  CheckpointStore,
  EventStore,
  EventTypeRegistry,
  ExecutorOptions,
  ProjectionLock,
} from '@eventcore/core';
import type { LogHoldBackOptions } from './projections/log-hold-back.monitor';
import type { TenancyOptions } from './tenancy/tenancy.options';

/** How the module runs the `@Projection()` providers it discovers. */
export interface ProjectionsModuleOptions {
  /**
   * Start every projection when the application boots. Turn it off to start them yourself through
   * `ProjectionRegistry.start` (e.g. only in a worker process).
   * @default true
   */
  readonly autoStart?: boolean;
  /**
   * While another instance holds a projection's lease, how often this one tries to take it over.
   * Bounds the takeover time after the active instance dies.
   * @default 1000
   */
  readonly standbyRetryMs?: number;
  /**
   * Watching for a stalled log (an open write transaction holding every subscriber back), with a
   * store that can tell (PostgreSQL): a warning once per episode, the
   * `eventcore.log.held_back.seconds` metric, and the `logHeldBack` details of the projections
   * health indicator. `false` turns it off.
   * @default { warnAfterSeconds: 30, checkIntervalMs: 5000 }
   */
  readonly heldBack?: LogHoldBackOptions | false;
}

/** Options of `EventCoreModule.forRoot` / `forRootAsync`. */
export interface EventCoreModuleOptions {
  /**
   * Where events are stored. Build it in `forRootAsync`'s `useFactory` when it needs configuration
   * (e.g. a PostgreSQL store from `ConfigService`).
   * @default a new in-memory store (nothing survives a restart)
   */
  readonly eventStore?: EventStore;
  /**
   * Defaults for every command: retry policy, discovery cap, validation, clock, state cache.
   * (Event types go in `events`, shared with projections.)
   */
  readonly executor?: Omit<ExecutorOptions, 'events'>;
  /**
   * Event types with their current schema version and upcasters (`new EventTypeRegistry([...])`,
   * the same form `CommandExecutor` takes). New events are written with the current version; older
   * stored events are upcast for commands, projections, subscriptions and process managers. Inject
   * it with `@InjectEventTypes()`.
   * @default an empty registry: every type at version 1
   */
  readonly events?: EventTypeRegistry;
  /**
   * Close the event store when the application shuts down (after the projections have stopped).
   * Turn it off when the store is shared with something that outlives the module.
   * @default true
   */
  readonly closeStoreOnShutdown?: boolean;
  /**
   * Runs last, after the store is closed: close what you opened for the module (e.g.
   * `createPostgresStorage(...).close`, which ends the LISTEN and lock connections).
   */
  readonly afterShutdown?: () => Promise<void>;
  /**
   * Where projections keep their checkpoints (and dead letters). Use a durable store in
   * production; the in-memory one starts every projection from zero after a restart.
   * @default a new `InMemoryCheckpointStore`
   */
  readonly checkpointStore?: CheckpointStore;
  /**
   * Elects the one instance that runs each projection. Share one lock between app instances (a
   * database-backed lock across processes).
   * @default a new `InMemoryProjectionLock` (this process only)
   */
  readonly projectionLock?: ProjectionLock;
  /** How discovered projections run. */
  readonly projections?: ProjectionsModuleOptions;
  /**
   * Multi-tenancy: each HTTP request acts for the tenant its resolver finds, on that tenant's store
   * only (commands, reads, projections, health). Leave out `eventStore`, `checkpointStore` and
   * `projectionLock` then. See docs/multi-tenancy.md.
   * @default none: one store for the whole application
   */
  readonly tenancy?: TenancyOptions;
}
