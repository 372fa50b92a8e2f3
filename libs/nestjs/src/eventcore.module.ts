import { Inject, Logger, Module, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import {
  type CheckpointStore,
  CommandExecutor,
  type EventStore,
  EventTypeRegistry,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemoryProjectionLock,
  InvalidOptionsError,
  type ProjectionLock,
  type SnapshotOptions,
} from '@eventcore/core';
import { CommandBus } from './command-bus';
import {
  EVENTCORE_CHECKPOINT_STORE,
  EVENTCORE_COMMAND_EXECUTOR,
  EVENTCORE_EVENT_STORE,
  EVENTCORE_EVENT_TYPES,
  EVENTCORE_PROJECTION_LOCK,
} from './eventcore.constants';
import type { EventCoreModuleOptions } from './eventcore-module.options';
import {
  ConfigurableEventCoreModule,
  EVENTCORE_MODULE_OPTIONS,
} from './eventcore.module-definition';
import { EventSubscriptions } from './projections/event-subscriptions';
import { LogHoldBackMonitor } from './projections/log-hold-back.monitor';
import { ProjectionMetadataAccessor } from './projections/projection-metadata.accessor';
import { ProjectionExplorer } from './projections/projection.explorer';
import { ProjectionOrchestrator } from './projections/projection.orchestrator';
import { ProjectionRegistry } from './projections/projection.registry';
import { checkTenancyOptions } from './tenancy/tenancy.options';
import { TenantContext } from './tenancy/tenant-context';
import { EVENTCORE_TENANT_CONTEXT, TenantDirectory } from './tenancy/tenant-directory';
import { TenantInterceptor } from './tenancy/tenant.interceptor';
import { TenantProjectionRegistry } from './tenancy/tenant-projection.registry';
import { TenantRoutingCommandExecutor } from './tenancy/tenant-routing.command-executor';
import { TenantRoutingEventStore } from './tenancy/tenant-routing.event-store';

const providers: Provider[] = [
  { provide: EVENTCORE_TENANT_CONTEXT, useFactory: () => new TenantContext() },
  {
    provide: EVENTCORE_EVENT_STORE,
    inject: [EVENTCORE_MODULE_OPTIONS, EVENTCORE_TENANT_CONTEXT],
    useFactory: (options: EventCoreModuleOptions, context: TenantContext): EventStore => {
      if (options.tenancy === undefined) return options.eventStore ?? new InMemoryEventStore();
      checkTenancyOptions(options);
      return new TenantRoutingEventStore(context);
    },
  },
  {
    provide: EVENTCORE_EVENT_TYPES,
    inject: [EVENTCORE_MODULE_OPTIONS],
    useFactory: (options: EventCoreModuleOptions): EventTypeRegistry => {
      if (options.events === undefined) return new EventTypeRegistry([]);
      if (!(options.events instanceof EventTypeRegistry)) {
        throw new InvalidOptionsError(
          'events',
          'pass an EventTypeRegistry, e.g. new EventTypeRegistry([{ type, version, upcasters }])',
        );
      }
      return options.events;
    },
  },
  {
    provide: EVENTCORE_COMMAND_EXECUTOR,
    inject: [
      EVENTCORE_EVENT_STORE,
      EVENTCORE_MODULE_OPTIONS,
      EVENTCORE_EVENT_TYPES,
      EVENTCORE_TENANT_CONTEXT,
      TenantDirectory,
    ],
    // The executor validates its options here, so a bad configuration fails at startup (under
    // tenancy too: each tenant's executor takes the same options).
    useFactory: (
      store: EventStore,
      options: EventCoreModuleOptions,
      events: EventTypeRegistry,
      context: TenantContext,
      directory: TenantDirectory,
    ) => {
      const executor = new CommandExecutor(store, {
        ...options.executor,
        ...withLoggedSnapshotProblems(options.executor?.snapshots),
        events,
      });
      return options.tenancy === undefined
        ? executor
        : new TenantRoutingCommandExecutor(context, directory);
    },
  },
  CommandBus,
  {
    provide: EVENTCORE_CHECKPOINT_STORE,
    inject: [EVENTCORE_MODULE_OPTIONS],
    useFactory: (options: EventCoreModuleOptions) =>
      options.checkpointStore ?? new InMemoryCheckpointStore(),
  },
  {
    provide: EVENTCORE_PROJECTION_LOCK,
    inject: [EVENTCORE_MODULE_OPTIONS],
    useFactory: (options: EventCoreModuleOptions) =>
      options.projectionLock ?? new InMemoryProjectionLock(),
  },
  ProjectionMetadataAccessor,
  ProjectionExplorer,
  {
    provide: ProjectionRegistry,
    inject: [
      EVENTCORE_EVENT_STORE,
      EVENTCORE_CHECKPOINT_STORE,
      EVENTCORE_MODULE_OPTIONS,
      EVENTCORE_TENANT_CONTEXT,
      TenantDirectory,
    ],
    useFactory: (
      store: EventStore,
      checkpoints: CheckpointStore,
      options: EventCoreModuleOptions,
      context: TenantContext,
      directory: TenantDirectory,
    ) =>
      options.tenancy === undefined
        ? new ProjectionRegistry(store, checkpoints)
        : new TenantProjectionRegistry(context, directory),
  },
  {
    provide: ProjectionOrchestrator,
    inject: [
      ProjectionExplorer,
      ProjectionRegistry,
      EVENTCORE_EVENT_STORE,
      EVENTCORE_CHECKPOINT_STORE,
      EVENTCORE_PROJECTION_LOCK,
      EVENTCORE_MODULE_OPTIONS,
      EVENTCORE_EVENT_TYPES,
      EVENTCORE_COMMAND_EXECUTOR,
      LogHoldBackMonitor,
    ],
    // Under tenancy the TenantDirectory runs the projections, one worker per (tenant, projection).
    useFactory: (
      explorer: ProjectionExplorer,
      registry: ProjectionRegistry,
      store: EventStore,
      checkpoints: CheckpointStore,
      lock: ProjectionLock,
      options: EventCoreModuleOptions,
      events: EventTypeRegistry,
      executor: CommandExecutor,
      heldBack: LogHoldBackMonitor,
    ) =>
      options.tenancy === undefined
        ? new ProjectionOrchestrator(
            explorer,
            registry,
            store,
            checkpoints,
            lock,
            options,
            events,
            executor,
            heldBack,
          )
        : {},
  },
  EventSubscriptions,
  LogHoldBackMonitor,
  TenantDirectory,
  { provide: APP_INTERCEPTOR, useClass: TenantInterceptor },
];

/**
 * EventCore for Nest: `EventCoreModule.forRoot({ eventStore })` (or `forRootAsync`) provides the
 * {@link CommandBus} and the event store, runs the `@Projection()` providers it discovers, and
 * closes the store on shutdown.
 */
@Module({
  imports: [DiscoveryModule],
  providers,
  exports: [
    CommandBus,
    EVENTCORE_EVENT_STORE,
    EVENTCORE_COMMAND_EXECUTOR,
    EVENTCORE_EVENT_TYPES,
    EVENTCORE_CHECKPOINT_STORE,
    EVENTCORE_PROJECTION_LOCK,
    ProjectionRegistry,
    EventSubscriptions,
    LogHoldBackMonitor,
    TenantDirectory,
    EVENTCORE_TENANT_CONTEXT,
  ],
})
export class EventCoreModule extends ConfigurableEventCoreModule implements OnApplicationShutdown {
  private readonly logger = new Logger('EventCore');

  constructor(
    @Inject(EVENTCORE_EVENT_STORE) private readonly store: EventStore,
    @Inject(EVENTCORE_MODULE_OPTIONS) private readonly options: EventCoreModuleOptions,
    @Inject(EVENTCORE_COMMAND_EXECUTOR) private readonly executor: { close?(): Promise<void> },
  ) {
    super();
  }

  /**
   * Closes the store in the last shutdown phase: projection workers and subscriptions stop in
   * `beforeApplicationShutdown` (in any module) and the HTTP server has drained by now, so nothing
   * still reads or appends.
   */
  async onApplicationShutdown(): Promise<void> {
    // Snapshots still queued are written before their store closes (a bounded queue).
    await this.attempt('Writing queued snapshots', async () => this.executor.close?.());
    // Under tenancy the TenantDirectory closes the tenants' stores.
    if (this.options.closeStoreOnShutdown !== false && this.options.tenancy === undefined) {
      await this.attempt('Closing the event store', () => this.store.close());
    }
    const afterShutdown = this.options.afterShutdown;
    if (afterShutdown !== undefined) await this.attempt('afterShutdown', afterShutdown);
  }

  private async attempt(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.logger.error(`${what} failed: ${(error as Error).message}`);
    }
  }
}

/** Snapshot options whose problems go to the Nest logger unless they name a `report` of their own. */
function withLoggedSnapshotProblems(snapshots: SnapshotOptions | undefined): {
  snapshots?: SnapshotOptions;
} {
  if (snapshots === undefined || snapshots.report !== undefined) return {};
  const logger = new Logger('EventCore');
  return { snapshots: { ...snapshots, report: (problem) => logger.warn(problem.message) } };
}
