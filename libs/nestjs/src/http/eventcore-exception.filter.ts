import { STATUS_CODES } from 'node:http';
import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import {
  BusinessRuleViolationError,
  CommandTimeoutError,
  CommandValidationError,
  ErrorCodes,
  type EventCoreError,
  InvalidOptionsError,
  isEventCoreError,
  LogHeldBackError,
  UnstorableTextError,
} from '@eventcore/core';
import {
  DEFAULT_PROBLEM_TYPE_BASE,
  httpStatusCode,
  PROBLEM_CONTENT_TYPE,
  type ProblemDetails,
  problemTitle,
  RequestErrorCodes,
} from './problem-details';

/** The part of the HTTP adapter's response the filter needs (Express and Fastify both fit). */
interface HttpResponse {
  status(code: number): { send(body: string): unknown };
  header(name: string, value: string): unknown;
  readonly headersSent?: boolean;
}

/** HTTP status of each EventCore error code; anything unlisted is a 500. */
const STATUS_BY_CODE: Partial<Record<string, number>> = {
  [ErrorCodes.commandValidation]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.invalidStreamId]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.invalidOptions]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.invalidPosition]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.invalidQuery]: HttpStatus.BAD_REQUEST,
  // Text no store can hold reached an event: it came from input, so it is the caller's mistake.
  [ErrorCodes.unstorableText]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.projectionNotFound]: HttpStatus.NOT_FOUND,
  // Tenancy (see docs/multi-tenancy.md): who the caller is decides the tenant, so a missing or
  // invalid credential is a 401; a command with no tenant in context is a server bug (500).
  [ErrorCodes.invalidTenantId]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.tenantUnresolved]: HttpStatus.UNAUTHORIZED,
  [ErrorCodes.tenantNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCodes.tenantBusy]: HttpStatus.CONFLICT,
  // Writes to a tenant pause while it moves between servers; the same request works after it.
  [ErrorCodes.tenantMoving]: HttpStatus.SERVICE_UNAVAILABLE,
  // Pause, resume or rebuild sent to an instance that does not run the projection.
  'eventcore.projection_not_active': HttpStatus.CONFLICT,
  [ErrorCodes.projectionWaitTimeout]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCodes.businessRuleViolation]: HttpStatus.CONFLICT,
  [ErrorCodes.concurrencyConflict]: HttpStatus.CONFLICT,
  // The stream is closed for good: retrying will not help, unlike a conflict.
  [ErrorCodes.streamArchived]: HttpStatus.CONFLICT,
  [ErrorCodes.archiveRefused]: HttpStatus.CONFLICT,
  // The DCB form of a concurrency conflict: what the decision read has changed since.
  [ErrorCodes.appendConditionFailed]: HttpStatus.CONFLICT,
  // Contention, not a refusal: nothing was written and the same request may well succeed later.
  [ErrorCodes.retriesExhausted]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCodes.idempotencyKeyReuse]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCodes.commandTimeout]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCodes.storeClosed]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCodes.storeUnavailable]: HttpStatus.SERVICE_UNAVAILABLE,
  // An open transaction somewhere on the server holds the log back; it passes once that ends.
  [ErrorCodes.logHeldBack]: HttpStatus.SERVICE_UNAVAILABLE,
  // A command's code emits an event its own boundary does not cover: a bug, not the caller's fault.
  [ErrorCodes.uncoveredEvent]: HttpStatus.INTERNAL_SERVER_ERROR,
};

/** 503 answers worth retrying: they carry `Retry-After`. A closed store needs a restart instead. */
const RETRYABLE = new Set<string>([
  ErrorCodes.retriesExhausted,
  ErrorCodes.commandTimeout,
  ErrorCodes.storeUnavailable,
  ErrorCodes.projectionWaitTimeout,
  ErrorCodes.logHeldBack,
  ErrorCodes.tenantMoving,
]);

/** Members of a thrown HTTP exception's body that the problem's own members replace. */
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'code', 'statusCode', 'message']);

/** Options of {@link EventCoreExceptionFilter}. */
export interface EventCoreExceptionFilterOptions {
  /**
   * HTTP status per business rule (`ctx.require(cond, message, rule)`).
   * @default rules ending in `.not_found` → 404, every other rule → 409
   */
  readonly statusByRule?: Readonly<Record<string, number>>;
  /**
   * Start of every problem's `type` URI, which ends with the code. Point it at your API's
   * documentation to make the URIs resolvable.
   * @default 'https://eventcore.dev/problems/'
   */
  readonly problemTypeBase?: string;
  /** Titles per code, for your own codes (business rules); EventCore's codes have theirs. */
  readonly titles?: Readonly<Record<string, string>>;
  /**
   * `Retry-After` (seconds) of the 503 answers worth retrying: exhausted conflict retries, command
   * timeouts, an unavailable store, a read model not caught up, a held-back log.
   * @default 1
   */
  readonly retryAfterSeconds?: number;
}

/** What the filter answers for one error. */
interface Answer {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly members?: Record<string, unknown>;
  readonly headers?: Record<string, string>;
}

/**
 * Answers every error as an RFC 9457 problem (`application/problem+json` with `type`, `title`,
 * `status`, `detail`, a stable `code`, and members such as `failures`): EventCore's typed errors
 * (invalid input and queries 400, rules ending in `.not_found` 404, other business rules and
 * failed append conditions 409, contention, timeouts, an unavailable store and a held-back log 503
 * with `Retry-After`), Nest's HTTP exceptions, and the errors of Express's body parser and router
 * (malformed JSON 400, too large 413, unsupported charset 415, malformed path 400, unknown route
 * 404), each with a fixed detail that does not echo the input. Client errors are not logged; server errors are, and anything unexpected is
 * answered 500 without internals. Register it with
 * `app.useGlobalFilters(new EventCoreExceptionFilter())`.
 * @throws InvalidOptionsError for a `retryAfterSeconds` that is not an integer >= 0
 */
@Catch()
export class EventCoreExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');
  private readonly typeBase: string;
  private readonly retryAfter: string;

  constructor(private readonly options: EventCoreExceptionFilterOptions = {}) {
    const seconds = options.retryAfterSeconds ?? 1;
    if (!Number.isSafeInteger(seconds) || seconds < 0) {
      throw new InvalidOptionsError(
        'EventCoreExceptionFilter options',
        'retryAfterSeconds must be an integer >= 0',
      );
    }
    this.retryAfter = String(seconds);
    this.typeBase = options.problemTypeBase ?? DEFAULT_PROBLEM_TYPE_BASE;
  }

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<HttpResponse>();
    const answer = isEventCoreError(error)
      ? this.eventCoreAnswer(error)
      : typeof (error as { getStatus?: unknown } | null)?.getStatus === 'function'
        ? this.httpAnswer(error as HttpExceptionLike, http.getRequest<{ route?: unknown }>())
        : this.unexpected(error);
    if (response.headersSent === true) return; // a streamed answer already started: nothing to add
    const body: ProblemDetails = {
      type: `${this.typeBase}${answer.code}`,
      title: problemTitle(answer.code, answer.status, this.options.titles),
      status: answer.status,
      detail: answer.detail,
      code: answer.code,
      ...answer.members,
    };
    response.header('Content-Type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
    for (const [name, value] of Object.entries(answer.headers ?? {})) response.header(name, value);
    response.status(answer.status).send(JSON.stringify(body));
  }

  private eventCoreAnswer(error: EventCoreError): Answer {
    const status = this.statusOf(error);
    // Server-side trouble is worth a line in the log; the caller's mistakes are not.
    if (status >= 500) this.logger.warn(`${error.code}: ${error.message}`);
    const headers =
      status === HttpStatus.SERVICE_UNAVAILABLE && RETRYABLE.has(error.code)
        ? { 'Retry-After': this.retryAfter }
        : undefined;
    if (error instanceof CommandValidationError) {
      const failures = error.failures.map(({ property, constraints }) => ({
        property,
        constraints,
      }));
      return { status, code: error.code, detail: error.message, members: { failures }, headers };
    }
    if (error instanceof BusinessRuleViolationError) {
      return { status, code: error.rule ?? error.code, detail: error.reason, headers };
    }
    if (error instanceof UnstorableTextError) {
      const members = { path: error.path };
      return { status, code: error.code, detail: error.message, members, headers };
    }
    if (error instanceof LogHeldBackError) {
      // The message names the blocking session (pid, database, application): that is for the
      // operators' log above, not for whoever sent the request.
      const detail =
        'The event log is held back by a write transaction still open on the database server, so the events a decision needs cannot be read safely yet. Nothing was written; retry later.';
      return { status, code: error.code, detail, members: { waitedMs: error.waitedMs }, headers };
    }
    if (error instanceof CommandTimeoutError) {
      const members = { outcome: error.outcome };
      return { status, code: error.code, detail: error.message, members, headers };
    }
    return { status, code: error.code, detail: error.message, headers };
  }

  private statusOf(error: EventCoreError): number {
    if (error instanceof BusinessRuleViolationError && error.rule !== undefined) {
      const configured = this.options.statusByRule?.[error.rule];
      if (configured !== undefined) return configured;
      if (error.rule.endsWith('.not_found')) return HttpStatus.NOT_FOUND;
    }
    return STATUS_BY_CODE[error.code] ?? HttpStatus.INTERNAL_SERVER_ERROR;
  }

  private httpAnswer(error: HttpExceptionLike, request: { route?: unknown }): Answer {
    const status = error.getStatus();
    const parsing = parserAnswer(error.cause, status);
    if (parsing !== undefined) return parsing;
    const body = error.getResponse();
    const given =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    // Express's router found no route (no route matched, so none is on the request): its own
    // message quotes the method and path, which varies with the input.
    if (
      status === HttpStatus.NOT_FOUND &&
      request.route === undefined &&
      given.code === undefined
    ) {
      return {
        status,
        code: RequestErrorCodes.routeNotFound,
        detail: 'No route matches this method and path. Check both against the API documentation.',
      };
    }
    if (status >= 500) {
      this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    }
    const code = typeof given.code === 'string' ? given.code : httpStatusCode(status);
    const members: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(given)) {
      // Nest's `error` is the reason phrase (the title says it); Terminus's is the failing checks.
      if (!RESERVED.has(name) && !(name === 'error' && typeof value === 'string')) {
        members[name] = value;
      }
    }
    return { status, code, detail: detailOf(body, given, status), members };
  }

  private unexpected(error: unknown): Answer {
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      code: RequestErrorCodes.internal,
      detail: 'The server failed to answer this request; the error is logged. Retry later.',
    };
  }
}

interface HttpExceptionLike {
  getStatus(): number;
  getResponse(): unknown;
  readonly cause?: unknown;
}

/**
 * The answer for errors of Express's body parser (http-errors with a `type`) and of its router's
 * path decoding (a URIError), which Nest wraps in an HttpException with the original as `cause`.
 */
function parserAnswer(cause: unknown, status: number): Answer | undefined {
  if (cause instanceof URIError) {
    return {
      status: HttpStatus.BAD_REQUEST,
      code: RequestErrorCodes.invalidPath,
      detail:
        'The URL path is not valid percent-encoded UTF-8 (a "%" must start an escape such as %20). Encode the path and send it again.',
    };
  }
  const type = (cause as { type?: unknown } | null | undefined)?.type;
  if (typeof type !== 'string') return undefined;
  switch (type) {
    case 'entity.parse.failed':
      return {
        status: HttpStatus.BAD_REQUEST,
        code: RequestErrorCodes.invalidJson,
        detail:
          'The request body is not valid JSON (a syntax error, a truncated document, or a raw control character in a string). Send one JSON document encoded in UTF-8.',
      };
    case 'entity.too.large':
    case 'parameters.too.many': {
      const limit = (cause as { limit?: unknown }).limit;
      return {
        status: HttpStatus.PAYLOAD_TOO_LARGE,
        code: RequestErrorCodes.tooLarge,
        detail:
          typeof limit === 'number'
            ? `The request body is larger than the limit of ${limit} bytes. Send less in one request.`
            : 'The request body has more parameters than the limit. Send less in one request.',
        members: typeof limit === 'number' ? { limit } : undefined,
      };
    }
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return {
        status: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
        code: RequestErrorCodes.unsupportedMediaType,
        detail:
          'The request body uses a charset or content encoding this server does not read. Send UTF-8 JSON, uncompressed or gzip/deflate/br compressed.',
      };
    default:
      // Other parser failures (an aborted upload, a wrong Content-Length): the status says it all.
      return {
        status,
        code: httpStatusCode(status),
        detail: `The request body could not be read (${STATUS_CODES[status] ?? status}). Send it again.`,
      };
  }
}

function detailOf(body: unknown, given: Record<string, unknown>, status: number): string {
  if (typeof body === 'string') return body;
  for (const candidate of [given.detail, given.message]) {
    if (typeof candidate === 'string') return candidate;
    // Nest's own ValidationPipe answers an array of messages.
    if (Array.isArray(candidate)) return candidate.map(String).join('; ');
  }
  return STATUS_CODES[status] ?? 'Error';
}
