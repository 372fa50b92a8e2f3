import type {
  AppendOptions,
  AppendResult,
  EventQuery,
  EventQueryReadOptions,
  EventQueryReadResult,
  EventStore,
  Position,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamsResult,
  StreamId,
  StreamWrite,
} from '@eventcore/core';
import type { TenantContext } from './tenant-context';

/**
 * The module's `EventStore` under tenancy (what `@InjectEventStore()` gives): every call goes to
 * the store of the tenant in context, and fails with `TenantRequiredError` outside one. So reads
 * in handlers and the health indicator act on the request's tenant. `close` does nothing: the
 * `TenantDirectory` owns the tenants' stores.
 */
export class TenantRoutingEventStore implements EventStore {
  constructor(private readonly context: TenantContext) {}

  readStreams(streamIds: readonly StreamId[]): Promise<ReadStreamsResult> {
    return this.store('Reading streams').readStreams(streamIds);
  }

  append(writes: readonly StreamWrite[], options?: AppendOptions): Promise<AppendResult> {
    return this.store('Appending').append(writes, options);
  }

  read(query: EventQuery, options?: EventQueryReadOptions): Promise<EventQueryReadResult> {
    return this.store('Reading events').read(query, options);
  }

  readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    return this.store('Reading the log').readAll(options);
  }

  comparePositions(a: Position, b: Position): number {
    return this.store('Comparing positions').comparePositions(a, b);
  }

  ping(): Promise<void> {
    return this.store('Pinging the event store').ping();
  }

  /** The tenant store's own health details (pool, schema version), for the health indicator. */
  async health(): Promise<Record<string, unknown>> {
    const scope = this.context.require('Checking the event store');
    const store = scope.eventStore as EventStore & {
      health?: () => Promise<Record<string, unknown>>;
    };
    const details = typeof store.health === 'function' ? await store.health() : {};
    return { tenant: scope.tenantId, ...details };
  }

  async close(): Promise<void> {}

  private store(what: string): EventStore {
    return this.context.require(what).eventStore;
  }
}
