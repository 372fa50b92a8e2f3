import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Inject,
  Injectable,
  Logger,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ErrorCodes, EventCoreError } from '@eventcore/core';
import { problemTitle } from '../http/problem-details';
import { ConsoleSignInRequired } from './console-access.guard';
import { CONSOLE_OPTIONS, CONSOLE_SESSIONS } from './console.constants';
import type { ResolvedConsoleOptions } from './console.options';
import { type ConsoleRequest, maybeConsoleState, rawPath } from './console-request';
import { CONSOLE_SECURITY_HEADERS, stateCookies } from './console.responses';
import { errorPage } from './console.views';

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  [ErrorCodes.projectionNotFound]: 404,
  [ErrorCodes.projectionNotActive]: 409,
  [ErrorCodes.invalidStreamId]: 400,
  [ErrorCodes.invalidOptions]: 400,
  [ErrorCodes.invalidPosition]: 400,
  [ErrorCodes.storeUnavailable]: 503,
  [ErrorCodes.storeClosed]: 503,
};

/**
 * Answers the console's errors as pages of the console (JSON for its live-update endpoint), with
 * the same security headers; a page request that needs a sign-in is redirected to the sign-in
 * page. Our errors' messages are shown (they say what to do); anything unexpected is a 500 whose
 * details go to the log only.
 */
@Catch()
@Injectable()
export class ConsoleExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('EventCoreConsole');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(CONSOLE_OPTIONS) private readonly options: ResolvedConsoleOptions,
    @Inject(CONSOLE_SESSIONS) private readonly sessions: unknown,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<ConsoleRequest>();
    const response = http.getResponse<unknown>();
    const adapter = this.adapterHost.httpAdapter;
    const state = maybeConsoleState(request);
    const base = state?.base ?? this.options.path;

    if (
      exception instanceof ConsoleSignInRequired &&
      state?.kind === 'page' &&
      request.method === 'GET'
    ) {
      const url = request.originalUrl ?? request.url ?? rawPath(request);
      adapter.redirect(response, 303, `${base}/sign-in?next=${encodeURIComponent(url)}`);
      return;
    }

    const { status, title, detail } = describe(exception);
    if (status >= 500) {
      this.logger.error(
        `Console request failed: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`,
      );
    }
    for (const [name, value] of Object.entries(CONSOLE_SECURITY_HEADERS)) {
      adapter.setHeader(response, name, value);
    }
    if (state?.kind === 'json' || state === undefined) {
      adapter.setHeader(response, 'content-type', 'application/json; charset=utf-8');
      adapter.reply(response, JSON.stringify({ status, title, detail }), status);
      return;
    }
    for (const value of stateCookies(state)) adapter.appendHeader(response, 'set-cookie', value);
    adapter.setHeader(response, 'content-type', 'text/html; charset=utf-8');
    const page = errorPage(
      {
        base,
        here: state.here,
        csrf: state.csrf,
        signOut: this.sessions !== null,
        refreshMs: this.options.refreshMs,
      },
      status,
      title,
      detail,
    );
    adapter.reply(response, page, status);
  }
}

function describe(exception: unknown): { status: number; title: string; detail: string } {
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const body = exception.getResponse() as { code?: string; detail?: unknown; message?: unknown };
    const detail =
      typeof body === 'object' && body !== null
        ? typeof body.detail === 'string'
          ? body.detail
          : Array.isArray(body.message)
            ? body.message.join('; ')
            : String(body.message ?? exception.message)
        : String(body);
    return { status, title: problemTitle(body.code ?? '', status), detail };
  }
  if (exception instanceof EventCoreError) {
    const status = STATUS_BY_CODE[exception.code] ?? 500;
    return { status, title: problemTitle(exception.code, status), detail: exception.message };
  }
  return {
    status: 500,
    title: 'Internal error',
    detail: 'The console could not answer; the details are in the server log.',
  };
}
