/** Stable error codes. They never change once published; match on them, not on messages. */
export const ErrorCodes = {
  invalidStreamId: 'eventcore.invalid_stream_id',
  invalidPosition: 'eventcore.invalid_position',
  concurrencyConflict: 'eventcore.concurrency_conflict',
  invalidAppend: 'eventcore.invalid_append',
  eventSerialization: 'eventcore.event_serialization',
  unstorableText: 'eventcore.unstorable_text',
  commandValidation: 'eventcore.command_validation',
  invalidCommand: 'eventcore.invalid_command',
  undeclaredStream: 'eventcore.undeclared_stream',
  streamDiscoveryLimit: 'eventcore.stream_discovery_limit',
  businessRuleViolation: 'eventcore.business_rule_violation',
  retriesExhausted: 'eventcore.retries_exhausted',
  commandTimeout: 'eventcore.command_timeout',
  idempotencyKeyReuse: 'eventcore.idempotency_key_reuse',
  invalidOptions: 'eventcore.invalid_options',
  storeClosed: 'eventcore.store_closed',
  storeUnavailable: 'eventcore.store_unavailable',
  embeddedDatabaseLocked: 'eventcore.embedded_database_locked',
  checkpointMoved: 'eventcore.checkpoint_moved',
  projectionNotFound: 'eventcore.projection_not_found',
  projectionWaitTimeout: 'eventcore.projection_wait_timeout',
  invalidProjection: 'eventcore.invalid_projection',
  projectionNotActive: 'eventcore.projection_not_active',
  projectionSetupFailed: 'eventcore.projection_setup_failed',
  eventDecode: 'eventcore.event_decode',
  invalidQuery: 'eventcore.invalid_query',
  appendConditionFailed: 'eventcore.append_condition_failed',
  logHeldBack: 'eventcore.log_held_back',
  uncoveredEvent: 'eventcore.uncovered_event',
  unsupportedTransaction: 'eventcore.unsupported_transaction',
  invalidTenantId: 'eventcore.invalid_tenant_id',
  tenantUnresolved: 'eventcore.tenant_unresolved',
  tenantNotFound: 'eventcore.tenant_not_found',
  tenantRequired: 'eventcore.tenant_required',
  tenantBusy: 'eventcore.tenant_busy',
  tenantMoving: 'eventcore.tenant_moving',
  streamArchived: 'eventcore.stream_archived',
  archiveRefused: 'eventcore.archive_refused',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * Base class of every error EventCore throws. `code` is stable; the other fields are structured
 * details (stream ids, versions, command name) for logs and HTTP mappings.
 */
export abstract class EventCoreError extends Error {
  abstract readonly code: ErrorCode;

  protected constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * True when `error` is an EventCore error, optionally with the given code. Matches by `code` as
 * well as by class, so it also works across duplicated package copies.
 */
export function isEventCoreError(error: unknown, code?: ErrorCode): error is EventCoreError {
  if (typeof error !== 'object' || error === null) return false;
  const actual = (error as { code?: unknown }).code;
  if (typeof actual !== 'string' || !actual.startsWith('eventcore.')) return false;
  return code === undefined || actual === code;
}
