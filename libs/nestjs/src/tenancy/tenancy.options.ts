import { InvalidOptionsError } from '@eventcore/core';
import type { EventCoreModuleOptions } from '../eventcore-module.options';
import type { TenantSchedulerOptions } from './tenant-projection.scheduler';
import type { TenantResolver } from './tenant-resolver';
import type { TenantPlacement, TenantStores } from './tenant-stores';

/**
 * `EventCoreModule.forRoot({ tenancy })`: every request acts for one tenant, on that tenant's
 * store only. See docs/multi-tenancy.md.
 */
export interface TenancyOptions {
  /**
   * Where tenants' events live. `'schema'`: one PostgreSQL schema per tenant on one shared
   * database and connection pool (thousands of small tenants); `'database'`: one database per
   * tenant on a pool of servers, a small pool each (fewer, larger tenants). Must match
   * `stores.placement`.
   */
  readonly placement: TenantPlacement;
  /**
   * Decides each HTTP request's tenant: `JwtClaimTenantResolver` (a verified token claim), or
   * `HeaderTenantResolver` behind a trusted proxy only.
   */
  readonly resolver: TenantResolver;
  /** The tenants' storage, e.g. `await createPostgresSchemaTenants({ connectionString })`. */
  readonly stores: TenantStores;
  /**
   * Runs tenants' projections in turns, at most `maxActiveTenants` tenants at a time, for many
   * tenants. Without it each opened tenant keeps a worker per projection running.
   * @default none
   */
  readonly scheduler?: TenantSchedulerOptions;
}

/**
 * Checks `tenancy` against the rest of the module's options, at startup.
 * @throws InvalidOptionsError naming the option to fix
 */
export function checkTenancyOptions(options: EventCoreModuleOptions): void {
  const tenancy = options.tenancy;
  if (tenancy === undefined) return;
  if (typeof tenancy !== 'object' || tenancy === null) {
    throw new InvalidOptionsError('tenancy', "pass { placement: 'schema', resolver, stores }");
  }
  if (tenancy.placement !== 'schema' && tenancy.placement !== 'database') {
    throw new InvalidOptionsError(
      'tenancy.placement',
      `use 'schema' or 'database', not ${JSON.stringify(tenancy.placement)}`,
    );
  }
  if (typeof tenancy.resolver?.resolve !== 'function') {
    throw new InvalidOptionsError(
      'tenancy.resolver',
      'pass a TenantResolver, e.g. new JwtClaimTenantResolver({ key })',
    );
  }
  const stores = tenancy.stores;
  if (typeof stores?.open !== 'function' || typeof stores.create !== 'function') {
    throw new InvalidOptionsError(
      'tenancy.stores',
      'pass TenantStores, e.g. await createPostgresSchemaTenants({ connectionString })',
    );
  }
  if (stores.placement !== tenancy.placement) {
    throw new InvalidOptionsError(
      'tenancy.stores',
      `the stores place tenants by ${JSON.stringify(stores.placement)}, not ${JSON.stringify(tenancy.placement)}`,
    );
  }
  // Each tenant has its own store, checkpoints and lock, from `stores`.
  for (const name of ['eventStore', 'checkpointStore', 'projectionLock'] as const) {
    if (options[name] !== undefined) {
      throw new InvalidOptionsError(
        name,
        'leave it out with tenancy: each tenant gets its own from tenancy.stores',
      );
    }
  }
  // A snapshot store keyed by stream ids would hand one tenant's state to another.
  if (options.executor !== undefined && 'snapshots' in options.executor) {
    throw new InvalidOptionsError(
      'executor.snapshots',
      'snapshots are not available with tenancy yet',
    );
  }
}
