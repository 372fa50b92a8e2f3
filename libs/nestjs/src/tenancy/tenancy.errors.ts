import { ErrorCodes, EventCoreError } from '@eventcore/core';

/** Every message the tenancy errors carry, in one place; each says what to do. */
export const TenancyMessages = {
  invalidTenantId: (value: unknown, reason: string) =>
    `Invalid tenant id ${describe(value)}: ${reason}. A tenant id is 1–32 characters: a lower-case letter, then lower-case letters, digits or underscores (it names the tenant's database schema), used exactly as given.`,
  tenantUnresolved: (reason: string) =>
    `No tenant for this request: ${reason}. Send a valid credential naming your tenant; nothing was read or written.`,
  tenantNotFound: (tenantId: string) =>
    `Tenant "${tenantId}" does not exist. Create it first (TenantDirectory.create), or check the tenant your credential names; nothing was read or written.`,
  tenantRequired: (what: string) =>
    `${what} needs a tenant, and none is in context: this code runs outside a request the tenant interceptor resolved (or on a route marked @WithoutTenant()). Run it inside TenantDirectory.runAs(tenantId, ...) or on a tenant route; nothing was read or written.`,
  tenantBusy: (tenantId: string, reason: string, action: string) =>
    `Tenant "${tenantId}" cannot be ${action} now: ${reason}. Nothing was ${action}; retry once that is over.`,
  tenantMoving: (tenantId: string) =>
    `Tenant "${tenantId}" is moving to another server: its commands and reads are paused until the move ends. Nothing was read or written; retry shortly.`,
} as const;

/** A tenant id failed validation (pattern or length); see `checkTenantId`. HTTP 400. */
export class InvalidTenantIdError extends EventCoreError {
  readonly code = ErrorCodes.invalidTenantId;
  constructor(
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(TenancyMessages.invalidTenantId(value, reason));
  }
}

/**
 * The resolver could not establish the request's tenant: no credential, a credential that does not
 * verify (signature, algorithm, expiry, issuer, audience), or no tenant claim. HTTP 401.
 */
export class TenantUnresolvedError extends EventCoreError {
  readonly code = ErrorCodes.tenantUnresolved;
  constructor(readonly reason: string) {
    super(TenancyMessages.tenantUnresolved(reason));
  }
}

/** The tenant is not in the directory (never created, or removed). HTTP 404. */
export class TenantNotFoundError extends EventCoreError {
  readonly code = ErrorCodes.tenantNotFound;
  constructor(readonly tenantId: string) {
    super(TenancyMessages.tenantNotFound(tenantId));
  }
}

/** Tenant-scoped work (a command, a read) ran with no tenant in context: a bug in the caller. */
export class TenantRequiredError extends EventCoreError {
  readonly code = ErrorCodes.tenantRequired;
  constructor(readonly what: string) {
    super(TenancyMessages.tenantRequired(what));
  }
}

/**
 * Removing or moving a tenant was refused because it is in use (commands in flight, projections
 * running, a move already running). HTTP 409.
 */
export class TenantBusyError extends EventCoreError {
  readonly code = ErrorCodes.tenantBusy;
  constructor(
    readonly tenantId: string,
    readonly reason: string,
    /** What was refused: `removed` or `moved`. */
    readonly action: 'removed' | 'moved' = 'removed',
  ) {
    super(TenancyMessages.tenantBusy(tenantId, reason, action));
  }
}

/**
 * The tenant is moving between servers (`TenantDirectory.moveTenant`): its commands and reads are
 * refused until the directory points at the new server. Retryable: HTTP 503 with `Retry-After`.
 */
export class TenantMovingError extends EventCoreError {
  readonly code = ErrorCodes.tenantMoving;
  constructor(readonly tenantId: string) {
    super(TenancyMessages.tenantMoving(tenantId));
  }
}

function describe(value: unknown): string {
  if (typeof value !== 'string') return `(${value === null ? 'null' : typeof value})`;
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}
