import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Optional,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import { AdminTokenGuard } from '../http/admin-token.guard';
import { RequestErrorCodes } from '../http/problem-details';
import { CONSOLE_APP_GUARD, CONSOLE_OPTIONS, CONSOLE_SESSIONS } from './console.constants';
import type { ResolvedConsoleOptions } from './console.options';
import {
  attachConsoleState,
  baseOf,
  CONSOLE_ROUTE,
  hereOf,
  type ConsoleRequest,
  type ConsoleRoute,
  readForm,
} from './console-request';
import {
  ConsoleSessions,
  CSRF_COOKIE,
  CSRF_FIELD,
  isLoopbackAddress,
  isLoopbackHost,
  newCsrfToken,
  parseCookies,
  sameOrigin,
  sameToken,
  SESSION_COOKIE,
} from './console-security';

/**
 * A browser that must sign in first (token mode): the console's exception filter answers a page
 * request with a redirect to the sign-in page, anything else with 401.
 */
export class ConsoleSignInRequired extends HttpException {
  constructor() {
    super(
      {
        code: RequestErrorCodes.unauthorized,
        detail: 'Sign in to the console with the admin token first.',
      },
      HttpStatus.UNAUTHORIZED,
    );
  }
}

/**
 * Every console request passes here, in this order: where the console is mounted in this request
 * is worked out; `localOnly` refuses other machines (403); the admin token (session cookie or
 * bearer) and the application's guard must accept it (401/403) unless the route is public; and a
 * POST must come from the same origin with the CSRF token of its browser (403).
 */
@Injectable()
export class ConsoleAccessGuard implements CanActivate {
  private readonly bearer: AdminTokenGuard | undefined;

  constructor(
    private readonly reflector: Reflector,
    @Inject(CONSOLE_OPTIONS) private readonly options: ResolvedConsoleOptions,
    @Inject(CONSOLE_SESSIONS) private readonly sessions: ConsoleSessions | null,
    @Optional() @Inject(CONSOLE_APP_GUARD) private readonly appGuard?: CanActivate,
  ) {
    // The administrative routes' own check, for scripts that send the token as a bearer header.
    this.bearer = options.token === undefined ? undefined : new AdminTokenGuard(options.token);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<ConsoleRequest>();
    const route = this.reflector.get<ConsoleRoute | undefined>(CONSOLE_ROUTE, context.getHandler());
    if (route === undefined)
      throw new Error('EventCore console: a route without @ConsoleGet/@ConsolePost');
    const cookies = parseCookies(request.headers.cookie);
    const given = cookies.get(CSRF_COOKIE);
    const known = given !== undefined && /^[A-Za-z0-9_-]{43}$/.test(given);
    const base = baseOf(request, route, this.options.path);
    const state = {
      base,
      here: hereOf(request, base),
      kind: route.kind,
      csrf: known ? given : newCsrfToken(),
      newCsrf: !known,
      secure: request.secure === true || request.protocol === 'https',
      form: new Map<string, string>(),
    };
    attachConsoleState(request, state);

    if (this.options.localOnly) this.checkLocal(request);
    if (!route.public) {
      if (this.sessions !== null) this.checkToken(context, request, cookies);
      if (this.appGuard !== undefined && !(await passes(this.appGuard, context))) {
        throw new ForbiddenException({
          code: RequestErrorCodes.forbidden,
          detail: 'Your account may not use the operations console.',
        });
      }
    }
    if (route.kind === 'action') {
      if (!sameOrigin(request.headers)) throw csrfRefused('the form was sent from another site');
      state.form = await readForm(request);
      if (!known || !sameToken(state.form.get(CSRF_FIELD), given)) {
        throw csrfRefused('the form carries no valid CSRF token for this browser');
      }
    }
    return true;
  }

  private checkLocal(request: ConsoleRequest): void {
    const address = request.socket?.remoteAddress ?? request.raw?.socket?.remoteAddress;
    if (!isLoopbackAddress(address) || !isLoopbackHost(request.headers.host)) {
      throw new ForbiddenException({
        code: RequestErrorCodes.forbidden,
        detail:
          'This console serves connections from this machine only (localOnly): open it at http://localhost or http://127.0.0.1.',
      });
    }
  }

  /** A bearer header is checked as on the administrative routes; otherwise the session cookie. */
  private checkToken(
    context: ExecutionContext,
    request: ConsoleRequest,
    cookies: ReadonlyMap<string, string>,
  ): void {
    if (request.headers.authorization !== undefined) {
      this.bearer!.canActivate(context);
      return;
    }
    if (this.sessions!.verify(cookies.get(SESSION_COOKIE), Date.now())) return;
    throw new ConsoleSignInRequired();
  }
}

async function passes(guard: CanActivate, context: ExecutionContext): Promise<boolean> {
  const answer = guard.canActivate(context);
  return isObservable(answer) ? lastValueFrom(answer) : answer;
}

function csrfRefused(why: string): ForbiddenException {
  return new ForbiddenException({
    code: RequestErrorCodes.forbidden,
    detail: `Refused: ${why}. Reload the console page and try again.`,
  });
}
