import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import {
  type CheckpointStore,
  atLeastOnce,
  CheckpointMovedError,
  type CommandExecutor,
  type EventStore,
  type EventTypeRegistry,
  type ProjectionLock,
  ProjectionWorker,
} from '@eventcore/core';
import {
  EVENTCORE_CHECKPOINT_STORE,
  EVENTCORE_COMMAND_EXECUTOR,
  EVENTCORE_EVENT_TYPES,
  EVENTCORE_PROJECTION_LOCK,
} from '../eventcore.constants';
import { ProcessManagerHost } from './process-manager.host';
import type { EventCoreModuleOptions } from '../eventcore-module.options';
import { EVENTCORE_MODULE_OPTIONS } from '../eventcore.module-definition';
import { InjectEventStore } from '../inject-event-store.decorator';
import { LogHoldBackMonitor } from './log-hold-back.monitor';
import { observeProjections } from './projection-metrics';
import { ProjectionExplorer } from './projection.explorer';
import { ProjectionRegistry } from './projection.registry';

/**
 * Owns one worker per discovered projection: builds them when the modules initialise (so a bad
 * projection fails `app.init()`), starts them on bootstrap, and stops them before shutdown —
 * before EventCoreModule closes the store, which it does in `onApplicationShutdown`.
 */
@Injectable()
export class ProjectionOrchestrator
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger('EventCore');
  private readonly workers: ProjectionWorker[] = [];
  private stopObserving: (() => void) | undefined;

  constructor(
    private readonly explorer: ProjectionExplorer,
    private readonly registry: ProjectionRegistry,
    @InjectEventStore() private readonly store: EventStore,
    @Inject(EVENTCORE_CHECKPOINT_STORE) private readonly checkpoints: CheckpointStore,
    @Inject(EVENTCORE_PROJECTION_LOCK) private readonly lock: ProjectionLock,
    @Inject(EVENTCORE_MODULE_OPTIONS) private readonly options: EventCoreModuleOptions,
    @Inject(EVENTCORE_EVENT_TYPES) private readonly events: EventTypeRegistry,
    @Inject(EVENTCORE_COMMAND_EXECUTOR) private readonly executor: CommandExecutor,
    private readonly heldBack: LogHoldBackMonitor,
  ) {}

  onModuleInit(): void {
    for (const { definition, host } of this.explorer.explore()) {
      const processManager = host instanceof ProcessManagerHost;
      if (processManager) host.attach(definition.name, this.executor);
      const worker = new ProjectionWorker(definition, host, {
        events: this.events,
        store: this.store,
        // A process manager's effects are commands in transactions of their own (idempotent per
        // event): its checkpoint must not hold a transaction open around them.
        checkpoints: processManager ? atLeastOnce(this.checkpoints) : this.checkpoints,
        lock: this.lock,
        standbyRetryMs: this.options.projections?.standbyRetryMs,
        onError: (name, error) => this.logFailure(name, error),
      });
      this.workers.push(worker);
      this.registry.register(worker, definition);
    }
    this.stopObserving = observeProjections(this.registry, this.heldBack);
  }

  onApplicationBootstrap(): void {
    // Even where no projection runs (autoStart off): health and metrics still tell of a stall.
    this.heldBack.start();
    if (this.options.projections?.autoStart === false) return;
    for (const worker of this.workers) worker.start();
    if (this.workers.length > 0) {
      this.logger.log(`Started projections: ${this.workers.map((w) => w.name).join(', ')}`);
    }
  }

  /** Each worker finishes its batch in flight and releases its lease, so another instance can take over. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopObserving?.();
    await Promise.all([this.heldBack.stop(), ...this.workers.map((worker) => worker.stop())]);
  }

  /** The error's message only: event data never goes to the log. */
  private logFailure(name: string, error: unknown): void {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (error instanceof CheckpointMovedError) {
      this.logger.warn(`Projection ${name} lost its lease: ${message}`);
    } else {
      this.logger.error(`Projection ${name} failed: ${message}`);
    }
  }
}
