import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import {
  BusinessRuleViolationError,
  CommandValidationError,
  ErrorCodes,
  type EventCoreError,
  isEventCoreError,
} from '@eventcore/core';

/** The part of the HTTP adapter's response the filter needs (Express and Fastify both fit). */
interface JsonResponse {
  status(code: number): { json(body: unknown): unknown };
}

/** HTTP status of each EventCore error code; anything unlisted is a 500. */
const STATUS_BY_CODE: Partial<Record<string, number>> = {
  [ErrorCodes.commandValidation]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.invalidStreamId]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.invalidOptions]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.invalidPosition]: HttpStatus.BAD_REQUEST,
  [ErrorCodes.projectionNotFound]: HttpStatus.NOT_FOUND,
  [ErrorCodes.projectionWaitTimeout]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCodes.businessRuleViolation]: HttpStatus.CONFLICT,
  [ErrorCodes.concurrencyConflict]: HttpStatus.CONFLICT,
  [ErrorCodes.retriesExhausted]: HttpStatus.CONFLICT,
  [ErrorCodes.idempotencyKeyReuse]: HttpStatus.UNPROCESSABLE_ENTITY,
  [ErrorCodes.commandTimeout]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCodes.storeClosed]: HttpStatus.SERVICE_UNAVAILABLE,
  [ErrorCodes.storeUnavailable]: HttpStatus.SERVICE_UNAVAILABLE,
};

/** Options of {@link EventCoreExceptionFilter}. */
export interface EventCoreExceptionFilterOptions {
  /**
   * HTTP status per business rule (`ctx.require(cond, message, rule)`).
   * @default rules ending in `.not_found` → 404, every other rule → 409
   */
  readonly statusByRule?: Readonly<Record<string, number>>;
}

/**
 * Maps EventCore's typed errors to HTTP answers with a stable `code`: invalid input 400, rules
 * ending in `.not_found` 404, other business rules and exhausted retries 409, timeouts and an
 * unavailable store 503. Nest's HTTP exceptions pass through; anything else is logged and
 * answered 500 without internals. Register it with `app.useGlobalFilters(new EventCoreExceptionFilter())`.
 */
@Catch()
export class EventCoreExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  constructor(private readonly options: EventCoreExceptionFilterOptions = {}) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<JsonResponse>();
    if (!isEventCoreError(error)) {
      const status = (error as { getStatus?: () => number }).getStatus?.();
      if (status !== undefined) {
        const body = (error as { getResponse: () => unknown }).getResponse();
        response
          .status(status)
          .json(typeof body === 'string' ? { statusCode: status, message: body } : body);
        return;
      }
      this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      response
        .status(500)
        .json({ statusCode: 500, code: 'internal_error', message: 'Internal error.' });
      return;
    }
    const status = this.statusOf(error);
    if (status >= 500) this.logger.warn(`${error.code}: ${error.message}`);
    response.status(status).json({ statusCode: status, ...bodyOf(error) });
  }

  private statusOf(error: EventCoreError): number {
    if (error instanceof BusinessRuleViolationError && error.rule !== undefined) {
      const configured = this.options.statusByRule?.[error.rule];
      if (configured !== undefined) return configured;
      if (error.rule.endsWith('.not_found')) return HttpStatus.NOT_FOUND;
    }
    return STATUS_BY_CODE[error.code] ?? HttpStatus.INTERNAL_SERVER_ERROR;
  }
}

function bodyOf(error: EventCoreError): Record<string, unknown> {
  if (error instanceof CommandValidationError) {
    return {
      code: error.code,
      message: error.message,
      failures: error.failures.map(({ property, constraints }) => ({ property, constraints })),
    };
  }
  if (error instanceof BusinessRuleViolationError) {
    return { code: error.rule ?? error.code, message: error.reason };
  }
  return { code: error.code, message: error.message };
}
