import {
  BadRequestException,
  Controller,
  Inject,
  NotFoundException,
  Param,
  Req,
  type Type,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { unstorableTextReason } from '@eventcore/core';
import { RequestErrorCodes } from '../http/problem-details';
import { ConsoleAccessGuard } from './console-access.guard';
import { CONSOLE_OPTIONS, CONSOLE_SESSIONS } from './console.constants';
import { CONSOLE_CSS, CONSOLE_JS } from './console.assets';
import { ConsoleExceptionFilter } from './console.exception-filter';
import type { ResolvedConsoleOptions } from './console.options';
import {
  ConsoleGet,
  ConsolePost,
  type ConsoleRequest,
  type ConsoleRequestState,
  consoleState,
  queryParam,
} from './console-request';
import { assetAnswer, htmlAnswer, jsonAnswer, redirectAnswer } from './console.responses';
import { ConsoleSessions, cookie, SESSION_COOKIE, SESSION_TTL_MS } from './console-security';
import { ConsoleService, SEARCH_PAGE_SIZE, STREAM_PAGE_SIZE } from './console.service';
import * as views from './console.views';

/**
 * The console's routes at `path`. Built per module because Nest reads a controller's path from
 * its decorator. Every page is server-rendered HTML; every change is a POST form (CSRF-checked by
 * {@link ConsoleAccessGuard}) answered with 303 to the page that shows the result.
 */
export function consoleControllerAt(path: string): Type {
  @Controller(path)
  @UseGuards(ConsoleAccessGuard)
  @UseFilters(ConsoleExceptionFilter)
  class EventCoreConsoleController {
    constructor(
      @Inject(ConsoleService) private readonly console: ConsoleService,
      @Inject(CONSOLE_OPTIONS) private readonly options: ResolvedConsoleOptions,
      @Inject(CONSOLE_SESSIONS) private readonly sessions: ConsoleSessions | null,
    ) {}

    @ConsoleGet('')
    async overview(@Req() request: ConsoleRequest): Promise<Response> {
      const state = consoleState(request);
      return htmlAnswer(state, views.overviewPage(this.view(state), await this.console.overview()));
    }

    @ConsoleGet('api/status', 'json')
    async status(): Promise<Response> {
      const [overview, projections] = await Promise.all([
        this.console.overview(),
        this.console.projections(),
      ]);
      return jsonAnswer({ values: views.liveValues(overview, projections) });
    }

    @ConsoleGet('projections')
    async projections(@Req() request: ConsoleRequest): Promise<Response> {
      const state = consoleState(request);
      const rows = await this.console.projections();
      return htmlAnswer(
        state,
        views.projectionsPage(this.view(state), rows, queryParam(request, 'done')),
      );
    }

    @ConsoleGet('projections/:name')
    async projection(
      @Req() request: ConsoleRequest,
      @Param('name') name: string,
    ): Promise<Response> {
      const state = consoleState(request);
      const detail = await this.console.projection(name);
      const page = views.projectionPage(
        this.view(state),
        detail,
        queryParam(request, 'done'),
        this.console.inspects,
      );
      return htmlAnswer(state, page);
    }

    @ConsolePost('projections/:name/pause')
    async pause(@Req() request: ConsoleRequest, @Param('name') name: string): Promise<Response> {
      await this.console.pause(name);
      return redirectAnswer(consoleState(request), `${projectionPath(name)}?done=paused`);
    }

    @ConsolePost('projections/:name/resume')
    async resume(@Req() request: ConsoleRequest, @Param('name') name: string): Promise<Response> {
      await this.console.resume(name);
      return redirectAnswer(consoleState(request), `${projectionPath(name)}?done=resumed`);
    }

    /** The confirmation step: a page whose form does the rebuild. */
    @ConsoleGet('projections/:name/rebuild')
    async confirmRebuild(
      @Req() request: ConsoleRequest,
      @Param('name') name: string,
    ): Promise<Response> {
      const state = consoleState(request);
      const { status } = await this.console.projection(name);
      return htmlAnswer(state, views.rebuildPage(this.view(state), status));
    }

    @ConsolePost('projections/:name/rebuild')
    async rebuild(@Req() request: ConsoleRequest, @Param('name') name: string): Promise<Response> {
      const state = consoleState(request);
      // A POST that skipped the confirmation page gets the page, not a rebuild.
      if (state.form.get('confirm') !== 'rebuild') {
        return redirectAnswer(state, `${projectionPath(name)}/rebuild`);
      }
      await this.console.rebuild(name);
      return redirectAnswer(state, `${projectionPath(name)}?done=rebuilt`);
    }

    @ConsoleGet('projections/:name/dead-letters/:eventId')
    async deadLetter(
      @Req() request: ConsoleRequest,
      @Param('name') name: string,
      @Param('eventId') eventId: string,
    ): Promise<Response> {
      const state = consoleState(request);
      const { letter, event } = await this.console.deadLetter(name, eventId);
      const page = views.deadLetterPage(
        this.view(state),
        name,
        letter,
        event,
        this.console.inspects,
      );
      return htmlAnswer(state, page);
    }

    @ConsolePost('projections/:name/dead-letters/:eventId/retry')
    async retry(
      @Req() request: ConsoleRequest,
      @Param('name') name: string,
      @Param('eventId') eventId: string,
    ): Promise<Response> {
      await this.console.retryDeadLetter(name, eventId);
      return redirectAnswer(consoleState(request), `${projectionPath(name)}?done=retried`);
    }

    @ConsolePost('projections/:name/dead-letters/:eventId/skip')
    async skip(
      @Req() request: ConsoleRequest,
      @Param('name') name: string,
      @Param('eventId') eventId: string,
    ): Promise<Response> {
      await this.console.skipDeadLetter(name, eventId);
      return redirectAnswer(consoleState(request), `${projectionPath(name)}?done=skipped`);
    }

    @ConsoleGet('streams')
    async streams(@Req() request: ConsoleRequest): Promise<Response> {
      const state = consoleState(request);
      const prefix = queryParam(request, 'prefix');
      const after = queryParam(request, 'after');
      const results =
        prefix === undefined ? undefined : await this.console.findStreams(prefix, after);
      const more = results !== undefined && results.length === SEARCH_PAGE_SIZE;
      const page = views.streamsPage(
        this.view(state),
        prefix,
        results,
        more,
        this.console.inspects,
      );
      return htmlAnswer(state, page);
    }

    @ConsoleGet('streams/:id')
    async stream(@Req() request: ConsoleRequest, @Param('id') id: string): Promise<Response> {
      const state = consoleState(request);
      if (id.length > 255 || unstorableTextReason(id) !== undefined) {
        throw new BadRequestException({
          code: RequestErrorCodes.invalid,
          detail: 'That is not a stream id.',
        });
      }
      const from = Number.parseInt(queryParam(request, 'from') ?? '1', 10);
      const page = await this.console.stream(id, Number.isSafeInteger(from) ? from : 1);
      return htmlAnswer(state, views.streamPage(this.view(state), page, STREAM_PAGE_SIZE));
    }

    @ConsoleGet('trace')
    async trace(@Req() request: ConsoleRequest): Promise<Response> {
      const state = consoleState(request);
      const correlationId = queryParam(request, 'correlationId') || undefined;
      const trace =
        correlationId === undefined || !this.console.inspects
          ? undefined
          : await this.console.trace(correlationId);
      const page = views.tracePage(this.view(state), correlationId, trace, this.console.inspects);
      return htmlAnswer(state, page);
    }

    @ConsoleGet('sign-in', 'page', { public: true })
    signInForm(@Req() request: ConsoleRequest): Response {
      const state = consoleState(request);
      this.requireSessions();
      const next = safeNext(state, queryParam(request, 'next'));
      return htmlAnswer(state, views.signInPage(this.view(state), next, false));
    }

    @ConsolePost('sign-in', { public: true })
    signIn(@Req() request: ConsoleRequest): Response {
      const state = consoleState(request);
      const sessions = this.requireSessions();
      const next = safeNext(state, state.form.get('next'));
      if (!sessions.isToken(state.form.get('token') ?? '')) {
        return htmlAnswer(state, views.signInPage(this.view(state), next, true), 401);
      }
      const session = cookie(
        SESSION_COOKIE,
        sessions.issue(Date.now()),
        scopeOf(state),
        SESSION_TTL_MS / 1000,
      );
      return redirectAnswer(state, next.slice(state.base.length + 1), [session]);
    }

    @ConsolePost('sign-out', { public: true })
    signOut(@Req() request: ConsoleRequest): Response {
      const state = consoleState(request);
      return redirectAnswer(state, this.sessions ? 'sign-in' : '', [
        cookie(SESSION_COOKIE, '', scopeOf(state), 0),
      ]);
    }

    @ConsoleGet('assets/console.css', 'asset')
    css(): Response {
      return assetAnswer(CONSOLE_CSS, 'text/css; charset=utf-8');
    }

    @ConsoleGet('assets/console.js', 'asset')
    js(): Response {
      return assetAnswer(CONSOLE_JS, 'text/javascript; charset=utf-8');
    }

    private view(state: ConsoleRequestState): views.ViewContext {
      return {
        base: state.base,
        here: state.here,
        csrf: state.csrf,
        signOut: this.sessions !== null,
        refreshMs: this.options.refreshMs,
      };
    }

    private requireSessions(): ConsoleSessions {
      if (this.sessions === null) {
        throw new NotFoundException({
          code: RequestErrorCodes.routeNotFound,
          detail: 'This console signs in through the application, not with a token.',
        });
      }
      return this.sessions;
    }
  }
  return EventCoreConsoleController;
}

function projectionPath(name: string): string {
  return `projections/${encodeURIComponent(name)}`;
}

function scopeOf(state: ConsoleRequestState) {
  return { path: state.base, secure: state.secure };
}

/**
 * Where to go after signing in: a path of this console only (never another site: the value comes
 * from the query string). Anything else goes to the overview.
 */
function safeNext(state: ConsoleRequestState, next: string | undefined): string {
  const fallback = `${state.base}/`;
  if (next === undefined || !next.startsWith(`${state.base}/`)) return fallback;
  return /[\\\s]|\/\/|\/\.\.?(\/|$)/.test(next.slice(state.base.length)) ? fallback : next;
}
