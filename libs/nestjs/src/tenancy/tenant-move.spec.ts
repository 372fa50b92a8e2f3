import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { type INestApplication, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IsString } from 'class-validator';
import {
  Command,
  type CommandContext,
  type CommandLogic,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InvalidOptionsError,
  type StreamId,
  Stream,
  streamId,
} from '@eventcore/core';
import { CommandBus } from '../command-bus';
import { EventCoreModule } from '../eventcore.module';
import { Projection } from '../projections/projection.decorator';
import { ProjectionHost } from '../projections/projection.host';
import { HeaderTenantResolver } from './header.tenant-resolver';
import { TenantBusyError, TenantMovingError } from './tenancy.errors';
import { TenantDirectory } from './tenant-directory';
import type {
  TenantMoveRequest,
  TenantMoveResult,
  TenantParts,
  TenantStores,
  TenantSummary,
} from './tenant-stores';

/** Tenants in memory whose `move` waits for the test to let it finish. */
class MovableTenants implements TenantStores {
  readonly placement = 'database' as const;
  readonly tenants = new Map<string, TenantParts & { server: string }>();
  moves: TenantMoveRequest[] = [];
  private finish: (() => void) | undefined;
  async create(tenantId: string): Promise<boolean> {
    this.tenants.set(tenantId, {
      server: 'one',
      eventStore: new InMemoryEventStore(),
      checkpointStore: new InMemoryCheckpointStore(),
    });
    return true;
  }
  async list(): Promise<readonly TenantSummary[]> {
    return [...this.tenants].map(([tenantId, t]) => ({
      tenantId,
      location: t.server,
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
  /** Moves nothing but the tenant's server name, once `finishMove` is called. */
  async move(tenantId: string, request: TenantMoveRequest): Promise<TenantMoveResult | undefined> {
    this.moves.push(request);
    await new Promise<void>((resolve) => (this.finish = resolve));
    const tenant = this.tenants.get(tenantId)!;
    this.tenants.set(tenantId, { ...tenant, server: request.targetServer });
    return { from: tenant.server, to: request.targetServer, events: 0, checkpoints: {} };
  }
  finishMove(): void {
    this.finish?.();
  }
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
  handle(_n: number, ctx: CommandContext<{ type: 'Ticked'; data: Record<string, never> }, Tick>) {
    ctx.emit('stream', { type: 'Ticked', data: {} });
  }
}

/** Counts each event id it handles, per tenant. */
@Projection({ name: 'ticks', pollIntervalMs: 10 })
@Injectable()
class Ticks extends ProjectionHost {
  readonly seen = new Map<string, number>();
  async handle(event: { id: string }): Promise<void> {
    this.seen.set(event.id, (this.seen.get(event.id) ?? 0) + 1);
  }
}

describe('TenantDirectory.moveTenant: writes paused while a tenant moves', () => {
  let app: INestApplication;
  let directory: TenantDirectory;
  let stores: MovableTenants;

  beforeEach(async () => {
    stores = new MovableTenants();
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({
          tenancy: { placement: 'database', resolver: new HeaderTenantResolver(), stores },
        }),
      ],
      providers: [Ticks],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    directory = app.get(TenantDirectory);
    await directory.create('mover');
    await directory.create('stayer');
  });

  afterEach(() => app?.close());

  const tick = (tenant: string) =>
    directory.runAs(tenant, () => app.get(CommandBus).execute(new Tick()));

  it('refuses the tenant meanwhile, lets others through, and resumes its projections', async () => {
    await tick('mover');
    const before = await directory.projectionsOf('mover');
    expect(before.list()[0]!.state).not.toBe('stopped');
    const moving = directory.moveTenant('mover', 'two');
    for (let i = 0; i < 100 && stores.moves.length === 0; i++) await sleep(5);
    expect(stores.moves).toEqual([
      { targetServer: 'two', projections: ['ticks'], keepSource: false },
    ]);

    await expect(tick('mover')).rejects.toThrow(TenantMovingError);
    await expect(directory.moveTenant('mover', 'three')).rejects.toThrow(TenantBusyError);
    await expect(directory.remove('mover', { confirm: 'mover' })).rejects.toThrow(TenantBusyError);
    await tick('stayer');
    // Its projection was stopped here before the stores were asked to move it.
    expect(before.list()[0]!.state).toBe('stopped');

    stores.finishMove();
    await expect(moving).resolves.toMatchObject({ from: 'one', to: 'two' });
    const last = await tick('mover');
    await directory.runAs('mover', async () =>
      (await directory.projectionsOf()).waitFor(last.position, { timeoutMs: 5_000 }),
    );
    expect((await directory.projectionsOf('mover')).list()[0]!.state).toBe('live');
    expect([...app.get(Ticks).seen.values()].every((n) => n === 1)).toBe(true);
    expect((await directory.list()).find((t) => t.tenantId === 'mover')?.location).toBe('two');
  });

  it('says which stores cannot move tenants', async () => {
    const fixed = new MovableTenants();
    Object.defineProperty(fixed, 'move', { value: undefined });
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({
          tenancy: { placement: 'database', resolver: new HeaderTenantResolver(), stores: fixed },
        }),
      ],
    }).compile();
    const other = moduleRef.createNestApplication({ logger: false });
    await other.init();
    try {
      await expect(other.get(TenantDirectory).moveTenant('mover', 'two')).rejects.toThrow(
        InvalidOptionsError,
      );
    } finally {
      await other.close();
    }
  });
});
