import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import {
  atLeastOnce,
  CheckpointMovedError,
  CommandExecutor,
  type CommandLogic,
  type CommandResult,
  type DomainEvent,
  type EventTypeRegistry,
  type ExecuteOptions,
  InMemoryCheckpointStore,
  InMemoryProjectionLock,
  InvalidOptionsError,
  processManagerHandler,
  type ProjectionDefinition,
  type ProjectionStatus,
  ProjectionWorker,
} from '@eventcore/core';
import { EVENTCORE_EVENT_TYPES } from '../eventcore.constants';
import type { EventCoreModuleOptions } from '../eventcore-module.options';
import { EVENTCORE_MODULE_OPTIONS } from '../eventcore.module-definition';
import { ProcessManagerHost } from '../projections/process-manager.host';
import { ProjectionExplorer } from '../projections/projection.explorer';
import type { ProjectionHost } from '../projections/projection.host';
import { ProjectionRegistry } from '../projections/projection.registry';
import { MovedTenantProjectionRegistry } from './moved-tenant.projection-registry';
import { TenantBusyError, TenantMovingError, TenantNotFoundError } from './tenancy.errors';
import { TenantContext, type TenantScope } from './tenant-context';
import { checkTenantId } from './tenant-id';
import { TenantProjectionScheduler } from './tenant-projection.scheduler';
import type { TenantMoveResult, TenantParts, TenantStores, TenantSummary } from './tenant-stores';

/** Injection token of the module's {@link TenantContext}. */
export const EVENTCORE_TENANT_CONTEXT = 'EVENTCORE:TENANT_CONTEXT';

/** Options of {@link TenantDirectory.remove}. */
export interface RemoveTenantOptions {
  /** The tenant id again, as a confirmation: removal deletes every event of the tenant. */
  readonly confirm: string;
}

/** Options of {@link TenantDirectory.moveTenant}. */
export interface MoveTenantOptions {
  /** Keep the old database, read-only, after the switch (e.g. as a fallback copy). @default false */
  readonly keepSource?: boolean;
  /** Longest wait for this instance's commands of the tenant to end before the move. @default 30000 */
  readonly drainTimeoutMs?: number;
}

/** A tenant opened in this process: its store, executor, projections and work in flight. */
interface OpenTenant {
  readonly scope: TenantScope;
  readonly parts: TenantParts;
  readonly executor: CommandExecutor;
  readonly registry: ProjectionRegistry;
  readonly workers: readonly ProjectionWorker[];
  inFlight: number;
  removing: boolean;
  /** Projections stopped by `stopProjections`: the scheduler gives the tenant no more turns. */
  suspended: boolean;
}

/** The projections of every opened tenant, for operators (see {@link TenantDirectory.projectionOverview}). */
export interface TenantProjectionsOverview {
  readonly tenants: readonly {
    readonly tenantId: string;
    readonly projections: readonly ProjectionStatus[];
  }[];
  readonly total: {
    readonly tenants: number;
    readonly lagEvents: number;
    readonly faulted: number;
  };
  /** The scheduler's queue, when `tenancy.scheduler` is set. */
  readonly scheduler?: {
    readonly queued: number;
    readonly active: number;
    readonly maxActive: number;
  };
}

/** Projection states in which a worker still reads or writes the tenant's data. */
const RUNNING = new Set(['starting', 'catching-up', 'live', 'rebuilding', 'standby']);
/** States that end a scheduled turn: caught up, or nothing more to do here. */
const SETTLED = new Set(['live', 'faulted', 'paused', 'standby']);
/** How often a turn looks whether the tenant's workers have settled. */
const TURN_CHECK_MS = 20;

/**
 * The tenants, under `EventCoreModule.forRoot({ tenancy })`: creates, lists and removes them, and
 * opens each one once per process — its event store (on the shared pool), a command executor of
 * its own (so no cache is ever shared between tenants), and one worker per discovered projection
 * with its checkpoints in the tenant's storage. Commands and reads use the tenant in context
 * ({@link TenantContext}); {@link runAs} puts one there outside HTTP requests.
 */
@Injectable()
export class TenantDirectory
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('EventCore');
  private readonly open = new Map<string, Promise<OpenTenant>>();
  /** Tenants whose opening has finished, for synchronous lookups. */
  private readonly opened = new Map<string, OpenTenant>();
  private projections: readonly { definition: ProjectionDefinition; host: ProjectionHost }[] = [];
  private stopping = false;
  /** Tenants being moved between servers: their commands and reads are refused meanwhile. */
  private readonly moving = new Set<string>();
  private scheduler: TenantProjectionScheduler | undefined;

  constructor(
    @Inject(EVENTCORE_MODULE_OPTIONS) private readonly options: EventCoreModuleOptions,
    @Inject(EVENTCORE_EVENT_TYPES) private readonly events: EventTypeRegistry,
    @Inject(EVENTCORE_TENANT_CONTEXT) private readonly context: TenantContext,
    private readonly moduleRef: ModuleRef,
  ) {}

  /** Whether the module runs with tenancy (`forRoot({ tenancy })`). */
  get enabled(): boolean {
    return this.options.tenancy !== undefined;
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    this.projections = this.moduleRef.get(ProjectionExplorer).explore();
    const scheduler = this.options.tenancy?.scheduler;
    if (scheduler !== undefined && this.projections.length > 0) {
      this.scheduler = new TenantProjectionScheduler(
        scheduler,
        (tenantId, maxTurnMs) => this.turn(tenantId, maxTurnMs),
        async () => (await this.stores().list()).map((t) => t.tenantId),
        (error) =>
          this.logger.error(`Scheduling tenants' projections failed: ${(error as Error).message}`),
      );
    }
  }

  onApplicationBootstrap(): void {
    if (this.options.projections?.autoStart !== false) this.scheduler?.start();
  }

  /**
   * Creates a tenant: its storage (a schema or a database, migrated) and its directory record.
   * Creating one that exists brings its storage up to date and returns `false`.
   * @throws InvalidTenantIdError for an id that fails `checkTenantId`
   */
  create(tenantId: string): Promise<boolean> {
    return this.stores().create(checkTenantId(tenantId));
  }

  /** Every tenant, by id. */
  list(): Promise<readonly TenantSummary[]> {
    return this.stores().list();
  }

  /**
   * Deletes a tenant and every event, checkpoint and read model in its storage. Guarded: `confirm`
   * must repeat the id, and it is refused while this process runs a command for the tenant or any
   * of the tenant's projections is running here (stop them first with {@link stopProjections}).
   * Once it starts, new commands for the tenant are refused.
   * @throws InvalidOptionsError when `confirm` is not the tenant id
   * @throws TenantBusyError naming what is still running; nothing is removed then
   * @throws TenantNotFoundError for an unknown tenant
   */
  async remove(tenantId: string, options: RemoveTenantOptions): Promise<void> {
    checkTenantId(tenantId);
    if (options?.confirm !== tenantId) {
      throw new InvalidOptionsError(
        'confirm',
        `removing a tenant deletes all its events: pass { confirm: ${JSON.stringify(tenantId)} }`,
      );
    }
    if (this.moving.has(tenantId)) {
      throw new TenantBusyError(tenantId, 'it is moving to another server; remove it after');
    }
    const opening = this.open.get(tenantId);
    const tenant = opening === undefined ? undefined : await opening;
    if (tenant !== undefined) {
      // Checked and marked in one turn: no command can start in between.
      if (this.scheduler?.isActive(tenantId) === true) {
        throw new TenantBusyError(
          tenantId,
          'its projections are taking their turn on this instance',
        );
      }
      if (tenant.inFlight > 0) {
        throw new TenantBusyError(tenantId, `${tenant.inFlight} command(s) are in flight`);
      }
      const running = tenant.workers
        .filter((w) => RUNNING.has(w.status().state))
        .map((w) => w.name);
      if (running.length > 0) {
        throw new TenantBusyError(
          tenantId,
          `projection(s) ${running.join(', ')} are running on this instance; stop them first with TenantDirectory.stopProjections`,
        );
      }
      tenant.removing = true;
      this.open.delete(tenantId);
      this.opened.delete(tenantId);
    }
    if (!(await this.stores().remove(tenantId))) throw new TenantNotFoundError(tenantId);
  }

  /**
   * Runs `work` as `tenantId` (for jobs, scripts and tests; HTTP requests get their tenant from the
   * resolver): commands, reads and projection waits inside act on that tenant.
   * @throws TenantNotFoundError for an unknown tenant
   */
  async runAs<T>(tenantId: string, work: () => Promise<T> | T): Promise<T> {
    const tenant = await this.tenant(tenantId);
    return this.context.run(tenant.scope, work);
  }

  /** The scope of `tenantId` (opened on first use), for the interceptor. */
  async scopeOf(tenantId: string): Promise<TenantScope> {
    return (await this.tenant(tenantId)).scope;
  }

  /** The id of the tenant in context, if any. */
  currentTenantId(): string | undefined {
    return this.context.find()?.tenantId;
  }

  /**
   * Executes a command on the store of the tenant in context, chosen once for the whole command
   * (retries included).
   * @throws TenantRequiredError when no tenant is in context
   * @throws TenantNotFoundError when the tenant is being removed
   */
  async execute<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options?: ExecuteOptions,
  ): Promise<CommandResult<E>> {
    const scope = this.context.require('A command');
    const tenant = await this.tenant(scope.tenantId);
    if (tenant.removing) throw new TenantNotFoundError(scope.tenantId);
    // Checked and counted in one turn, after the await: a move waits for every counted command.
    if (this.moving.has(scope.tenantId) || tenant.scope !== scope) {
      throw new TenantMovingError(scope.tenantId);
    }
    tenant.inFlight++;
    try {
      const result = await tenant.executor.execute(command, options);
      if (!tenant.suspended) this.scheduler?.mark(scope.tenantId);
      return result;
    } catch (error) {
      // Another instance moved the tenant: nothing was written, the retry goes to the new place.
      if (await this.movedAway(tenant, error)) throw new TenantMovingError(scope.tenantId);
      throw error;
    } finally {
      tenant.inFlight--;
    }
  }

  /**
   * Moves a tenant to another server (the database placement), with writes to it paused and
   * nothing lost. From the call on, this instance refuses the tenant's commands and reads with
   * `TenantMovingError` (HTTP 503 with `Retry-After`); it waits for the tenant's commands in
   * flight here, stops its projections here (releasing their leases), and has the stores copy the
   * tenant: every event appended anew on the target in the log's order with its id, stream,
   * version, type, data, metadata and occurred-at time, and each projection's checkpoint
   * translated (see `PostgresDatabaseTenants.move`). Once the directory points at the target the
   * tenant is opened there and its projections start again from their translated checkpoints;
   * read-your-writes tokens given before the move are translated on `waitFor`.
   *
   * On failure the source stays authoritative: the tenant is reopened where it was and the error
   * is rethrown; the move can be retried. Other instances are fenced out of the source (it turns
   * read-only) but keep it open: restart them, or route the tenant's traffic to this instance, for
   * the duration.
   * @throws InvalidOptionsError when the stores cannot move tenants, or for an unknown server
   * @throws TenantBusyError when a move of the tenant is already running, or commands did not end
   *   within `drainTimeoutMs`; nothing was moved
   * @throws TenantNotFoundError for an unknown tenant
   */
  async moveTenant(
    tenantId: string,
    targetServer: string,
    options: MoveTenantOptions = {},
  ): Promise<TenantMoveResult> {
    checkTenantId(tenantId);
    const stores = this.stores();
    if (typeof stores.move !== 'function') {
      throw new InvalidOptionsError(
        'tenancy.stores',
        `these stores (placement ${JSON.stringify(stores.placement)}) cannot move tenants: moving needs placement 'database' (createPostgresDatabaseTenants)`,
      );
    }
    const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    if (!Number.isSafeInteger(drainTimeoutMs) || drainTimeoutMs < 0) {
      throw new InvalidOptionsError('drainTimeoutMs', 'use an integer number of milliseconds >= 0');
    }
    if (this.moving.has(tenantId))
      throw new TenantBusyError(tenantId, 'it is already moving', 'moved');
    this.moving.add(tenantId);
    let moved = false;
    try {
      const opening = this.open.get(tenantId);
      const tenant = opening === undefined ? undefined : await opening.catch(() => undefined);
      if (tenant !== undefined) await this.pause(tenant, drainTimeoutMs);
      // Parts opened before the move are closed by the move; the next opening reads the directory.
      this.forget(tenantId);
      const result = await stores.move(tenantId, {
        targetServer,
        projections: this.projections.map((p) => p.definition.name),
        keepSource: options.keepSource === true,
      });
      if (result === undefined) throw new TenantNotFoundError(tenantId);
      moved = true;
      this.logger.log(
        `Tenant ${tenantId} moved from server ${result.from} to ${result.to} (${result.events} events)`,
      );
      return result;
    } finally {
      this.forget(tenantId);
      this.moving.delete(tenantId);
      if (!this.stopping) await this.restart(tenantId, moved);
    }
  }

  /**
   * Status of the projections of every tenant opened in this process, and the totals (lag in
   * events, faulted projections). Under `tenancy.scheduler` a status dates from the tenant's
   * last turn.
   */
  projectionOverview(): TenantProjectionsOverview {
    const tenants = [...this.opened.values()].map((tenant) => ({
      tenantId: tenant.scope.tenantId,
      projections: tenant.registry.list(),
    }));
    const all = tenants.flatMap((t) => t.projections);
    return {
      tenants,
      total: {
        tenants: tenants.length,
        lagEvents: all.reduce((sum, p) => sum + p.lagEvents, 0),
        faulted: all.filter((p) => p.state === 'faulted').length,
      },
      ...(this.scheduler === undefined ? {} : { scheduler: this.scheduler.stats() }),
    };
  }

  /**
   * The projections of `tenantId` (default: the tenant in context): status, pause, resume, rebuild,
   * and read-your-writes (`waitFor`) on that tenant's checkpoints.
   */
  async projectionsOf(tenantId?: string): Promise<ProjectionRegistry> {
    const id = tenantId ?? this.context.require('Looking up projections').tenantId;
    return (await this.tenant(id)).registry;
  }

  /** The projections of the tenant in context, when it has been opened (it has, in a request). */
  currentProjections(): ProjectionRegistry {
    const scope = this.context.require('Looking up projections');
    const tenant = this.opened.get(scope.tenantId);
    if (tenant === undefined) throw new TenantNotFoundError(scope.tenantId);
    return tenant.registry;
  }

  /**
   * Stops the tenant's projections on this instance (releasing their leases), e.g. before removal;
   * the scheduler gives the tenant no more turns until the process restarts.
   */
  async stopProjections(tenantId: string): Promise<void> {
    const tenant = await this.tenant(checkTenantId(tenantId));
    tenant.suspended = true;
    await Promise.all(tenant.workers.map((worker) => worker.stop()));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.scheduler?.stop();
    const tenants = await Promise.allSettled(this.open.values());
    await Promise.all(
      tenants.flatMap((t) =>
        t.status === 'fulfilled' ? t.value.workers.map((w) => w.stop()) : [],
      ),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.enabled || this.options.closeStoreOnShutdown === false) return;
    try {
      await this.stores().close();
    } catch (error) {
      this.logger.error(`Closing the tenants' stores failed: ${(error as Error).message}`);
    }
  }

  /** Waits for the tenant's commands here to end and stops its projections here. */
  private async pause(tenant: OpenTenant, drainTimeoutMs: number): Promise<void> {
    const tenantId = tenant.scope.tenantId;
    tenant.suspended = true;
    const deadline = Date.now() + drainTimeoutMs;
    while (tenant.inFlight > 0 || this.scheduler?.isActive(tenantId) === true) {
      if (Date.now() >= deadline) {
        tenant.suspended = false;
        throw new TenantBusyError(
          tenantId,
          `${tenant.inFlight} command(s) still in flight after ${drainTimeoutMs} ms`,
          'moved',
        );
      }
      await sleep(TURN_CHECK_MS);
    }
    await Promise.all(tenant.workers.map((worker) => worker.stop()));
  }

  /**
   * Whether `error` says another instance moved the tenant away from the parts opened here (see
   * `TenantStores.release`); if so, this opening is retired: its projections stop and the next
   * use opens the tenant where the directory now says.
   */
  private async movedAway(tenant: OpenTenant, error: unknown): Promise<boolean> {
    const tenantId = tenant.scope.tenantId;
    const release = this.stores().release;
    if (release === undefined || tenant.removing) return false;
    if (!(await release.call(this.stores(), tenantId, tenant.parts, error))) return false;
    if (this.opened.get(tenantId) === tenant) this.forget(tenantId);
    tenant.suspended = true;
    await Promise.all(tenant.workers.map((worker) => worker.stop()));
    this.logger.warn(`Tenant ${tenantId} moved away from this instance's connection; reopening`);
    return true;
  }

  /** Drops the tenant's cached opening, so the next use opens it where the directory says. */
  private forget(tenantId: string): void {
    this.open.delete(tenantId);
    this.opened.delete(tenantId);
  }

  /** Opens the tenant again after a move (or a failed one) and lets its projections run there. */
  private async restart(tenantId: string, moved: boolean): Promise<void> {
    try {
      await this.tenant(tenantId);
      this.scheduler?.mark(tenantId);
    } catch (error) {
      this.logger.error(
        `Tenant ${tenantId} could not be opened ${moved ? 'on its new server' : 'after a failed move'}: ${(error as Error).message}; the next request retries`,
      );
    }
  }

  private tenant(tenantId: string): Promise<OpenTenant> {
    let opening = this.open.get(tenantId);
    if (opening === undefined) {
      opening = this.openTenant(checkTenantId(tenantId));
      this.open.set(tenantId, opening);
      // A failed opening (unknown tenant, database down) is retried by the next request.
      opening.catch(() => {
        if (this.open.get(tenantId) === opening) this.open.delete(tenantId);
      });
    }
    return opening;
  }

  private async openTenant(tenantId: string): Promise<OpenTenant> {
    if (this.moving.has(tenantId)) throw new TenantMovingError(tenantId);
    const parts = await this.stores().open(tenantId);
    if (parts === undefined) throw new TenantNotFoundError(tenantId);
    const scope: TenantScope = { tenantId, eventStore: parts.eventStore };
    const executor = new CommandExecutor(parts.eventStore, {
      ...this.options.executor,
      events: this.events,
    });
    const checkpointStore = parts.checkpointStore ?? new InMemoryCheckpointStore();
    const registry =
      parts.translatePosition === undefined
        ? new ProjectionRegistry(parts.eventStore, checkpointStore)
        : new MovedTenantProjectionRegistry(
            parts.eventStore,
            checkpointStore,
            parts.translatePosition,
          );
    // The workers' failures are reported against this opening, which exists once they do.
    const opening: { tenant?: OpenTenant } = {};
    const workers = this.workersFor(tenantId, parts, executor, () => opening.tenant);
    for (const { worker, definition } of workers) registry.register(worker, definition);
    const tenant: OpenTenant = {
      scope,
      parts,
      executor,
      registry,
      workers: workers.map((w) => w.worker),
      inFlight: 0,
      removing: false,
      suspended: false,
    };
    opening.tenant = tenant;
    this.opened.set(tenantId, tenant);
    // Under the scheduler, workers run only during the tenant's turns.
    if (
      this.scheduler === undefined &&
      this.options.projections?.autoStart !== false &&
      !this.stopping
    ) {
      // Started inside the tenant's context: everything the workers await keeps it, so a
      // projection handler can ask which tenant it serves.
      this.context.run(scope, () => {
        for (const worker of tenant.workers) worker.start();
      });
    }
    return tenant;
  }

  /**
   * One scheduled turn: starts the tenant's workers in its context, waits until each has caught up
   * (or cannot go on here), then stops them. `false` when the time ran out first.
   */
  private async turn(tenantId: string, maxTurnMs: number): Promise<boolean> {
    let tenant: OpenTenant;
    try {
      tenant = await this.tenant(tenantId);
    } catch (error) {
      if (error instanceof TenantNotFoundError) return true; // removed meanwhile
      if (error instanceof TenantMovingError) return true; // queued again once moved
      throw error;
    }
    if (tenant.removing || tenant.suspended || this.stopping) return true;
    const workers = tenant.workers;
    this.context.run(tenant.scope, () => {
      for (const worker of workers) worker.start();
    });
    const deadline = Date.now() + maxTurnMs;
    let settled = false;
    while (!this.stopping && !tenant.removing && !tenant.suspended && Date.now() < deadline) {
      settled = workers.every((worker) => SETTLED.has(worker.status().state));
      if (settled) break;
      await sleep(TURN_CHECK_MS);
    }
    await Promise.all(workers.map((worker) => worker.stop()));
    return settled || tenant.removing || tenant.suspended || this.stopping;
  }

  private workersFor(
    tenantId: string,
    parts: TenantParts,
    executor: CommandExecutor,
    owner: () => OpenTenant | undefined,
  ) {
    const checkpoints = parts.checkpointStore;
    if (checkpoints === undefined) {
      if (this.projections.length > 0) {
        this.logger.warn(`Tenant ${tenantId} has no checkpoint store: its projections do not run`);
      }
      return [];
    }
    const lock = parts.projectionLock ?? new InMemoryProjectionLock();
    return this.projections.map(({ definition, host }) => {
      const processManager = host instanceof ProcessManagerHost;
      // A process manager's commands go to this tenant's executor, never another tenant's.
      const handler = processManager
        ? processManagerHandler(definition.name, executor, (event, context) =>
            host.react(event, context),
          )
        : host;
      const worker = new ProjectionWorker(definition, handler, {
        events: this.events,
        store: parts.eventStore,
        checkpoints: processManager ? atLeastOnce(checkpoints) : checkpoints,
        lock,
        standbyRetryMs: this.options.projections?.standbyRetryMs,
        onError: (name, error) => this.onWorkerError(owner(), name, error),
      });
      return { worker, definition };
    });
  }

  private stores(): TenantStores {
    const tenancy = this.options.tenancy;
    if (tenancy === undefined) {
      throw new InvalidOptionsError(
        'tenancy',
        'TenantDirectory needs EventCoreModule.forRoot({ tenancy })',
      );
    }
    return tenancy.stores;
  }

  /** Logs a projection's failure; one that says the tenant moved away retires its opening. */
  private onWorkerError(tenant: OpenTenant | undefined, name: string, error: unknown): void {
    if (tenant === undefined) return;
    this.logFailure(tenant.scope.tenantId, name, error);
    this.movedAway(tenant, error).catch((failure: unknown) =>
      this.logger.error(`Retiring tenant ${tenant.scope.tenantId}: ${(failure as Error).message}`),
    );
  }

  private logFailure(tenantId: string, name: string, error: unknown): void {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (error instanceof CheckpointMovedError) {
      this.logger.warn(`Projection ${name} of tenant ${tenantId} lost its lease: ${message}`);
    } else {
      this.logger.error(`Projection ${name} of tenant ${tenantId} failed: ${message}`);
    }
  }
}
