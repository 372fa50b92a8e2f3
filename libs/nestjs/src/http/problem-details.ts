import { STATUS_CODES } from 'node:http';
import { ErrorCodes } from '@eventcore/core';

/** Media type of every error body {@link EventCoreExceptionFilter} answers (RFC 9457). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Default base of the problem `type` URIs: `type` is this base followed by the `code`. It is an
 * identifier, stable across hosts and versions, not a link; set `problemTypeBase` to a page of
 * your own API's documentation to make it resolvable.
 */
export const DEFAULT_PROBLEM_TYPE_BASE = 'https://eventcore.dev/problems/';

/**
 * Codes of the answers the HTTP helpers give for requests that are malformed before any command
 * runs: parser, router, validation, limits and credentials. Stable: match on them, not on `detail`.
 */
export const RequestErrorCodes = {
  /** A body, query or path parameter failed validation; `failures` lists every field. 400. */
  invalid: 'request.invalid',
  /** The body is not JSON (syntax, raw control characters, truncated). 400. */
  invalidJson: 'request.invalid_json',
  /** The body is larger than the parser's limit. 413. */
  tooLarge: 'request.too_large',
  /** The body's charset or content encoding is not supported. 415. */
  unsupportedMediaType: 'request.unsupported_media_type',
  /** The URL path is not valid percent-encoded UTF-8. 400. */
  invalidPath: 'request.invalid_path',
  /** No route matches the method and path. 404. */
  routeNotFound: 'request.route_not_found',
  /** The body nests deeper than `maxDepth`. 400. */
  tooDeep: 'request.too_deep',
  /** The body holds more than `maxValues` values (keys and array elements). 400. */
  tooManyValues: 'request.too_many_values',
  /** A header EventCore reads is malformed. 400. */
  invalidHeader: 'request.invalid_header',
  /** No or a wrong bearer token for an administrative route. 401. */
  unauthorized: 'request.unauthorized',
  /** Administrative routes are disabled (no token configured). 403. */
  forbidden: 'request.forbidden',
  /** Anything the server did not expect; details are logged, never answered. 500. */
  internal: 'internal_error',
} as const;

/**
 * An RFC 9457 problem: `type` (a URI per code), `title` (fixed per code), `status`, `detail`
 * (what went wrong and what to do), EventCore's `code`, and structured members such as `failures`.
 */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly [member: string]: unknown;
}

/** Titles of the codes EventCore answers; any other code gets its status's reason phrase. */
const TITLES: Readonly<Record<string, string>> = {
  [RequestErrorCodes.invalid]: 'Invalid request',
  [RequestErrorCodes.invalidJson]: 'Malformed JSON body',
  [RequestErrorCodes.tooLarge]: 'Request body too large',
  [RequestErrorCodes.unsupportedMediaType]: 'Unsupported body encoding',
  [RequestErrorCodes.invalidPath]: 'Malformed URL path',
  [RequestErrorCodes.routeNotFound]: 'No such route',
  [RequestErrorCodes.tooDeep]: 'Request body nested too deeply',
  [RequestErrorCodes.tooManyValues]: 'Request body has too many values',
  [RequestErrorCodes.invalidHeader]: 'Invalid header',
  [RequestErrorCodes.unauthorized]: 'Authentication required',
  [RequestErrorCodes.forbidden]: 'Administrative routes disabled',
  [RequestErrorCodes.internal]: 'Internal error',
  [ErrorCodes.commandValidation]: 'Invalid command input',
  [ErrorCodes.invalidStreamId]: 'Invalid stream id',
  [ErrorCodes.invalidOptions]: 'Invalid options',
  [ErrorCodes.invalidPosition]: 'Invalid position token',
  [ErrorCodes.unstorableText]: 'Text that cannot be stored',
  [ErrorCodes.projectionNotFound]: 'Unknown projection',
  [ErrorCodes.projectionWaitTimeout]: 'Read model not caught up yet',
  [ErrorCodes.businessRuleViolation]: 'Business rule violated',
  [ErrorCodes.concurrencyConflict]: 'Concurrent change',
  [ErrorCodes.streamArchived]: 'Stream archived',
  [ErrorCodes.archiveRefused]: 'Archive refused',
  [ErrorCodes.retriesExhausted]: 'Too much contention, retry later',
  [ErrorCodes.idempotencyKeyReuse]: 'Idempotency key reused',
  [ErrorCodes.commandTimeout]: 'Command timed out',
  [ErrorCodes.storeClosed]: 'Event store closed',
  [ErrorCodes.storeUnavailable]: 'Event store unavailable',
  [ErrorCodes.invalidQuery]: 'Invalid event query',
  [ErrorCodes.appendConditionFailed]: 'Append condition failed',
  [ErrorCodes.logHeldBack]: 'Event log held back, retry later',
  [ErrorCodes.uncoveredEvent]: 'Event outside the command boundary',
};

/** The fixed title of `code` (answered with `status`), unless `titles` names one. */
export function problemTitle(
  code: string,
  status: number,
  titles: Readonly<Record<string, string>> = {},
): string {
  return titles[code] ?? TITLES[code] ?? STATUS_CODES[status] ?? 'Error';
}

/** The generic code of an HTTP error that came without one, e.g. `http.405`. */
export function httpStatusCode(status: number): string {
  return `http.${status}`;
}
