import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventStore } from '@eventcore/core';
import { TenantRequiredError } from './tenancy.errors';

/** The tenant a request (or a `runAs` call) acts for, and its store, chosen once. */
export interface TenantScope {
  readonly tenantId: string;
  readonly eventStore: EventStore;
}

/**
 * The current tenant, per asynchronous call chain (`AsyncLocalStorage`): what a request's handler
 * awaits keeps the request's tenant, and concurrent requests never see each other's. Set by the
 * tenant interceptor and `TenantDirectory.runAs`; never by application code.
 */
export class TenantContext {
  private readonly storage = new AsyncLocalStorage<TenantScope>();

  /** Runs `work` with `scope` as the current tenant (and restores the previous one after). */
  run<T>(scope: TenantScope, work: () => T): T {
    return this.storage.run(scope, work);
  }

  /** The current tenant's scope, if any. */
  find(): TenantScope | undefined {
    return this.storage.getStore();
  }

  /**
   * The current tenant's scope.
   * @throws TenantRequiredError naming `what` when no tenant is in context
   */
  require(what: string): TenantScope {
    const scope = this.storage.getStore();
    if (scope === undefined) throw new TenantRequiredError(what);
    return scope;
  }
}
