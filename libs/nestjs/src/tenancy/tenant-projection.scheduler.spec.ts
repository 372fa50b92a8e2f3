import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IsString } from 'class-validator';
import {
  Command,
  type CommandContext,
  type CommandLogic,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  type Position,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { CommandBus } from '../command-bus';
import { EventCoreModule } from '../eventcore.module';
import { Projection } from '../projections/projection.decorator';
import { ProjectionHost } from '../projections/projection.host';
import { HeaderTenantResolver } from './header.tenant-resolver';
import { TenantBusyError } from './tenancy.errors';
import { TenantDirectory } from './tenant-directory';
import type { TenantParts, TenantStores, TenantSummary } from './tenant-stores';

class MemoryTenants implements TenantStores {
  readonly placement = 'schema' as const;
  private readonly tenants = new Map<string, TenantParts>();
  async create(tenantId: string): Promise<boolean> {
    if (this.tenants.has(tenantId)) return false;
    this.tenants.set(tenantId, {
      eventStore: new InMemoryEventStore(),
      checkpointStore: new InMemoryCheckpointStore(),
    });
    return true;
  }
  async list(): Promise<readonly TenantSummary[]> {
    return [...this.tenants.keys()].map((tenantId) => ({
      tenantId,
      location: 'memory',
      createdAt: '',
    }));
  }
  async open(tenantId: string): Promise<TenantParts | undefined> {
    return this.tenants.get(tenantId);
  }
  async remove(tenantId: string): Promise<boolean> {
    return this.tenants.delete(tenantId);
  }
  async close(): Promise<void> {}
}

@Command()
class Tick implements CommandLogic<number, { type: 'Ticked'; data: Record<string, never> }> {
  @Stream() stream: StreamId = streamId('ticks');
  @IsString() note = 'tick';
  initialState(): number {
    return 0;
  }
  apply(n: number): number {
    return n + 1;
  }
  handle(
    _n: number,
    ctx: CommandContext<{ type: 'Ticked'; data: Record<string, never> }, Tick>,
  ): void {
    ctx.emit('stream', { type: 'Ticked', data: {} });
  }
}

/** Counts per tenant, and how many tenants it was handling at the same moment. */
@Projection({ name: 'ticks', streams: ['ticks'], pollIntervalMs: 10, batchSize: 1 })
@Injectable()
class Ticks extends ProjectionHost {
  readonly counts = new Map<string, number>();
  readonly handling = new Set<string>();
  mostAtOnce = 0;
  gate: Promise<void> | undefined;
  constructor(private readonly directory: TenantDirectory) {
    super();
  }
  async handle(): Promise<void> {
    const tenant = this.directory.currentTenantId()!;
    this.handling.add(tenant);
    this.mostAtOnce = Math.max(this.mostAtOnce, this.handling.size);
    await sleep(2);
    await this.gate;
    this.handling.delete(tenant);
    this.counts.set(tenant, (this.counts.get(tenant) ?? 0) + 1);
  }
}

describe('tenancy.scheduler: projections of many tenants in bounded turns', () => {
  let app: INestApplication;
  let directory: TenantDirectory;
  let ticks: Ticks;
  const TENANTS = ['t1', 't2', 't3', 't4', 't5', 't6'];

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({
          tenancy: {
            placement: 'schema',
            resolver: new HeaderTenantResolver(),
            stores: new MemoryTenants(),
            scheduler: { maxActiveTenants: 2, maxTurnMs: 200, sweepIntervalMs: 60_000 },
          },
        }),
      ],
      providers: [Ticks],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    directory = app.get(TenantDirectory);
    ticks = app.get(Ticks);
    for (const tenant of TENANTS) await directory.create(tenant);
  });

  afterEach(() => app?.close());

  it('catches every tenant up with at most maxActiveTenants running at once', async () => {
    const bus = app.get(CommandBus);
    const last = new Map<string, Position>();
    await Promise.all(
      TENANTS.map((tenant) =>
        directory.runAs(tenant, async () => {
          for (let n = 0; n < 8; n++) last.set(tenant, (await bus.execute(new Tick())).position);
        }),
      ),
    );
    for (const tenant of TENANTS) {
      await directory.runAs(tenant, async () =>
        (await directory.projectionsOf()).waitFor(last.get(tenant)!, { timeoutMs: 20_000 }),
      );
    }
    expect(Object.fromEntries(ticks.counts)).toEqual(
      Object.fromEntries(TENANTS.map((t) => [t, 8])),
    );
    expect(ticks.mostAtOnce).toBeLessThanOrEqual(2);
    // Between turns nothing runs: no worker, no timer per (tenant, projection).
    for (let i = 0; i < 200 && directory.projectionOverview().scheduler!.active > 0; i++)
      await sleep(10);
    const overview = directory.projectionOverview();
    expect(overview.scheduler).toEqual({ queued: 0, active: 0, maxActive: 2 });
    expect(overview.total).toEqual({ tenants: 6, lagEvents: 0, faulted: 0 });
    expect(overview.tenants.flatMap((t) => t.projections.map((p) => p.state))).toEqual(
      Array(6).fill('stopped'),
    );
  });

  it('refuses to remove a tenant while its turn runs', async () => {
    let release!: () => void;
    ticks.gate = new Promise((resolve) => (release = resolve));
    await directory.runAs('t1', () => app.get(CommandBus).execute(new Tick()));
    for (let i = 0; i < 200 && ticks.handling.size === 0; i++) await sleep(5);
    await expect(directory.remove('t1', { confirm: 't1' })).rejects.toThrow(TenantBusyError);
    release();
    for (let i = 0; i < 200 && directory.projectionOverview().scheduler!.active > 0; i++)
      await sleep(10);
    await directory.remove('t1', { confirm: 't1' });
    expect((await directory.list()).map((t) => t.tenantId)).not.toContain('t1');
  });
});
