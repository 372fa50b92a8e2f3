import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { InMemoryCheckpointStore, InMemoryEventStore, type RecordedEvent } from '@eventcore/core';
import {
  EventCoreModule,
  HeaderTenantResolver,
  type TenantParts,
  type TenantStores,
  type TenantSummary,
  TenantDirectory,
} from '@eventcore/nestjs';
import { EventCoreNatsModule } from './eventcore-nats.module';
import { NatsForwarder } from './nats-forwarder';

/** Tenants in memory, enough to run the module under tenancy. */
class MemoryTenants implements TenantStores {
  readonly placement = 'schema' as const;
  private readonly tenants = new Map<string, TenantParts>();
  async create(tenantId: string): Promise<boolean> {
    this.tenants.set(tenantId, {
      eventStore: new InMemoryEventStore(),
      checkpointStore: new InMemoryCheckpointStore(),
    });
    return true;
  }
  async list(): Promise<readonly TenantSummary[]> {
    return [...this.tenants.keys()].map((tenantId) => ({ tenantId, location: '', createdAt: '' }));
  }
  async open(tenantId: string): Promise<TenantParts | undefined> {
    return this.tenants.get(tenantId);
  }
  async remove(tenantId: string): Promise<boolean> {
    return this.tenants.delete(tenantId);
  }
  async close(): Promise<void> {}
}

const event = { id: '0190a000-0000-7000-8000-000000000001' } as RecordedEvent;
const nats = { servers: 'nats://127.0.0.1:4222', stream: 'BANK' };

/** The forwarder of an app (projections not started: nothing connects to NATS). */
async function forwarderOf(tenancy: boolean, tenant?: (event: RecordedEvent) => string) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      EventCoreModule.forRoot(
        tenancy
          ? {
              tenancy: {
                placement: 'schema',
                resolver: new HeaderTenantResolver(),
                stores: new MemoryTenants(),
              },
              projections: { autoStart: false },
            }
          : { eventStore: new InMemoryEventStore(), projections: { autoStart: false } },
      ),
      EventCoreNatsModule.forRoot(tenant === undefined ? nats : { ...nats, tenant }),
    ],
  }).compile();
  await moduleRef.init();
  return {
    forwarder: moduleRef.get(NatsForwarder),
    directory: moduleRef.get(TenantDirectory),
    close: () => moduleRef.close(),
  };
}

describe('NATS forwarder: the tenant token of its subjects', () => {
  it('is the tenant the forwarder runs for under tenancy, with no option', async () => {
    const app = await forwarderOf(true);
    try {
      await app.directory.create('acme');
      await app.directory.create('globex');
      const tenantOf = app.forwarder.options.tenant;
      expect(await app.directory.runAs('acme', () => tenantOf(event))).toBe('acme');
      expect(await app.directory.runAs('globex', () => tenantOf(event))).toBe('globex');
      // Outside any tenant's context it refuses rather than guess.
      expect(() => tenantOf(event)).toThrow(/no tenant in context.*pass the tenant option/);
    } finally {
      await app.close();
    }
  });

  it('keeps an explicit tenant option under tenancy', async () => {
    const app = await forwarderOf(true, () => 'fixed');
    try {
      await app.directory.create('acme');
      expect(await app.directory.runAs('acme', () => app.forwarder.options.tenant(event))).toBe(
        'fixed',
      );
    } finally {
      await app.close();
    }
  });

  it("is 'default' without tenancy", async () => {
    const app = await forwarderOf(false);
    try {
      expect(app.forwarder.options.tenant(event)).toBe('default');
    } finally {
      await app.close();
    }
  });
});
