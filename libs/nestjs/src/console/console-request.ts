import { applyDecorators, Get, PayloadTooLargeException, Post, SetMetadata } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';

/** What a console route answers: an HTML page, a form action, JSON for live updates, an asset. */
export type ConsoleRouteKind = 'page' | 'action' | 'json' | 'asset';

/** Metadata key of a console route (its path below the mount point, its kind). */
export const CONSOLE_ROUTE = 'eventcore:console-route';

/** A console route as its decorator declares it. */
export interface ConsoleRoute {
  /** Path below the console's mount point, e.g. `projections/:name`. */
  readonly path: string;
  readonly kind: ConsoleRouteKind;
  /** Served without signing in (assets, the sign-in page); `localOnly` still applies. */
  readonly public: boolean;
}

/** A GET route of the console. */
export function ConsoleGet(
  path: string,
  kind: Exclude<ConsoleRouteKind, 'action'> = 'page',
  options: { public?: boolean } = {},
): MethodDecorator {
  const route: ConsoleRoute = { path, kind, public: options.public ?? kind === 'asset' };
  return applyDecorators(Get(path), SetMetadata(CONSOLE_ROUTE, route));
}

/** A POST route of the console: a form action, CSRF-checked by the access guard. */
export function ConsolePost(path: string, options: { public?: boolean } = {}): MethodDecorator {
  const route: ConsoleRoute = { path, kind: 'action', public: options.public ?? false };
  return applyDecorators(Post(path), SetMetadata(CONSOLE_ROUTE, route));
}

/** What the access guard learnt about a request, for the handlers and the exception filter. */
export interface ConsoleRequestState {
  /** Absolute path of the console's mount point in this request (global prefix included), no trailing slash. */
  readonly base: string;
  /** This request's own path and query (for links to the page itself, such as the skip link). */
  readonly here: string;
  readonly kind: ConsoleRouteKind;
  /** The CSRF token of this browser (from its cookie, or new: then `newCsrfCookie` is set). */
  readonly csrf: string;
  /** True when the CSRF token is new and its cookie must be sent with the answer. */
  readonly newCsrf: boolean;
  /** Whether cookies must carry `Secure` (the request came over HTTPS). */
  readonly secure: boolean;
  /** The fields of a POSTed form. */
  form: ReadonlyMap<string, string>;
}

const STATE = Symbol('eventcore.console');

/** The parts of an Express or Fastify request the console reads. */
export interface ConsoleRequest {
  readonly method?: string;
  readonly url?: string;
  readonly originalUrl?: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly socket?: { readonly remoteAddress?: string };
  readonly secure?: boolean;
  readonly protocol?: string;
  readonly body?: unknown;
  /** Fastify's underlying Node request. */
  readonly raw?: IncomingMessage;
  [STATE]?: ConsoleRequestState;
}

/** The state the guard attached. @throws Error when the guard did not run (a wiring bug). */
export function consoleState(request: ConsoleRequest): ConsoleRequestState {
  const state = request[STATE];
  if (state === undefined) throw new Error('EventCore console: the access guard did not run');
  return state;
}

/** The state, if the guard got far enough to attach it (the exception filter's view). */
export function maybeConsoleState(request: ConsoleRequest): ConsoleRequestState | undefined {
  return request[STATE];
}

export function attachConsoleState(request: ConsoleRequest, state: ConsoleRequestState): void {
  request[STATE] = state;
}

/** The raw (still percent-encoded) path of the request, without its query. */
export function rawPath(request: ConsoleRequest): string {
  const url = request.originalUrl ?? request.url ?? '/';
  const at = url.indexOf('?');
  return at < 0 ? url : url.slice(0, at);
}

/** One query parameter of the request (the first when repeated), or undefined. */
export function queryParam(request: ConsoleRequest, name: string): string | undefined {
  const url = request.originalUrl ?? request.url ?? '/';
  try {
    return new URL(url, 'http://console.invalid').searchParams.get(name) ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * The request's path and query as received, for a link back to the same page; the mount point for
 * anything that is not a plain absolute path (a `//host` path would leave the site).
 */
export function hereOf(request: ConsoleRequest, base: string): string {
  const url = request.originalUrl ?? request.url ?? '';
  return url.startsWith('/') && !url.startsWith('//') && !/[\\\s]/.test(url) ? url : `${base}/`;
}

/**
 * The mount point's absolute path in this request: the request path less as many trailing
 * segments as the route has (so a global prefix or a router prefix is kept). Falls back to the
 * configured path for anything odd, so that a crafted path can never make the base (used in
 * `<base href>` and redirects) point to another host.
 */
export function baseOf(request: ConsoleRequest, route: ConsoleRoute, configured: string): string {
  const segments = rawPath(request).split('/');
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  const depth = route.path.split('/').filter((s) => s !== '').length;
  const base = segments.slice(0, segments.length - depth).join('/');
  const safe = base.startsWith('/') && !base.startsWith('//') && !/[\\\s"'<>]/.test(base);
  return safe && base.endsWith(configured) ? base : configured;
}

/** Largest form the console accepts: its forms carry a token and a few short fields. */
const MAX_FORM_BYTES = 16 * 1024;

/**
 * The fields of an `application/x-www-form-urlencoded` body: parsed by the application's body
 * parser if it ran, otherwise read here (many API apps parse JSON only).
 * @throws PayloadTooLargeException past 16 KiB
 */
export async function readForm(request: ConsoleRequest): Promise<Map<string, string>> {
  const body = request.body;
  if (typeof body === 'object' && body !== null && !Buffer.isBuffer(body)) {
    const fields = new Map<string, string>();
    for (const [key, value] of Object.entries(body)) {
      if (typeof value === 'string') fields.set(key, value);
    }
    return fields;
  }
  const text =
    typeof body === 'string'
      ? body
      : Buffer.isBuffer(body)
        ? body.toString('utf8')
        : await readStream(request.raw ?? (request as unknown as IncomingMessage));
  if (text.length > MAX_FORM_BYTES) throw tooLarge();
  const fields = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(text)) {
    if (!fields.has(key)) fields.set(key, value);
  }
  return fields;
}

async function readStream(stream: IncomingMessage): Promise<string> {
  if (stream.readableEnded || typeof stream.on !== 'function') return '';
  const declared = Number(stream.headers['content-length'] ?? 0);
  if (declared > MAX_FORM_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(): PayloadTooLargeException {
  return new PayloadTooLargeException({
    code: 'request.too_large',
    detail: `A console form is at most ${MAX_FORM_BYTES} bytes.`,
  });
}
