import type { CheckpointStore, EventStore, Position, ProjectionLock } from '@eventcore/core';

/**
 * Where tenants' events live: `'schema'`, one schema per tenant on a shared database (many small
 * tenants, one pool); `'database'`, one database per tenant on a pool of servers (fewer, larger
 * tenants, a small pool each).
 */
export type TenantPlacement = 'schema' | 'database';

/** What a tenant's work runs on. */
export interface TenantParts {
  readonly eventStore: EventStore;
  /** The tenant's projection checkpoints. @default none: the tenant's projections do not run */
  readonly checkpointStore?: CheckpointStore;
  /** Elects one instance per (tenant, projection). @default an in-process lock */
  readonly projectionLock?: ProjectionLock;
  /**
   * For a tenant that was moved between servers: turns a position given before the move into one
   * of its current store, for read-your-writes. @default positions pass unchanged
   */
  readonly translatePosition?: (position: Position) => Position;
}

/** What {@link TenantStores.move} is asked to do. */
export interface TenantMoveRequest {
  /** The server to move the tenant to. */
  readonly targetServer: string;
  /** Projections whose checkpoints move with the tenant. */
  readonly projections: readonly string[];
  /** Keep the old copy (read-only) after the switch. @default false */
  readonly keepSource?: boolean;
}

/** What a move did. */
export interface TenantMoveResult {
  /** The server the tenant was on. */
  readonly from: string;
  /** The server it is on now. */
  readonly to: string;
  /** Events copied. */
  readonly events: number;
  /** Each projection's checkpoint on the new server (`null`: from the beginning). */
  readonly checkpoints: Readonly<Record<string, Position | null>>;
}

/** One tenant of the directory. */
export interface TenantSummary {
  readonly tenantId: string;
  /** Where its events are (e.g. the schema), for operators. */
  readonly location: string;
  readonly createdAt: string;
}

/**
 * The tenants' storage, as the database adapter provides it (e.g. `createPostgresSchemaTenants`
 * from `@eventcore/postgres`); this package never opens a database itself. Tenant ids reaching it
 * have passed `checkTenantId`. `TenantDirectory` guards and caches around it: use that, not this.
 */
export interface TenantStores {
  readonly placement: TenantPlacement;
  /** Creates the tenant's storage (schema, migrations) and records it; `false` when it already existed (its schema is brought up to date). */
  create(tenantId: string): Promise<boolean>;
  /** Every tenant, by id. */
  list(): Promise<readonly TenantSummary[]>;
  /** Opens the tenant's parts (called once per tenant and process); `undefined` for an unknown tenant. */
  open(tenantId: string): Promise<TenantParts | undefined>;
  /** Closes what `open` opened for the tenant, then deletes its storage and record; `false` when unknown. */
  remove(tenantId: string): Promise<boolean>;
  /**
   * Optional (the database placement has it): moves the tenant's storage to another server, with
   * its events, positions and checkpoints translated; its parts opened here are closed first.
   * `undefined` for an unknown tenant. Call it through `TenantDirectory.moveTenant`, which pauses
   * the tenant's work first.
   */
  move?(tenantId: string, request: TenantMoveRequest): Promise<TenantMoveResult | undefined>;
  /**
   * Optional: whether `error`, met on `parts` (what `open` gave for the tenant), means its storage
   * was moved away by another process (the old copy fenced or gone); if so, the stores close those
   * parts, so the next `open` follows the directory to the new place.
   */
  release?(tenantId: string, parts: TenantParts, error: unknown): Promise<boolean>;
  /** Closes every tenant's parts and what the stores own (the shared pool). */
  close(): Promise<void>;
}
