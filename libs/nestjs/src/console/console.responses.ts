import { type ConsoleRequestState } from './console-request';
import { cookie, CSRF_COOKIE } from './console-security';

/**
 * Headers of every console answer: nothing but the console's own CSS and script may load or run
 * (so an escaped-by-mistake value still cannot run script), no framing, no caching of pages.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

/**
 * The cookies an HTML answer must set: the browser's CSRF token when it was just made. Only pages
 * set it: an asset or live-update request made alongside a page's first load would otherwise
 * replace the page's token with another.
 */
export function stateCookies(state: ConsoleRequestState | undefined): string[] {
  if (state === undefined || !state.newCsrf) return [];
  return [cookie(CSRF_COOKIE, state.csrf, { path: state.base, secure: state.secure })];
}

function headers(own: Readonly<Record<string, string>>, cookies: readonly string[]): Headers {
  const all = new Headers({ ...CONSOLE_SECURITY_HEADERS, ...own });
  for (const value of cookies) all.append('set-cookie', value);
  return all;
}

/** An HTML page. */
export function htmlAnswer(
  state: ConsoleRequestState,
  body: string,
  status = 200,
  cookies: readonly string[] = [],
): Response {
  return new Response(body, {
    status,
    headers: headers({ 'content-type': 'text/html; charset=utf-8' }, [
      ...stateCookies(state),
      ...cookies,
    ]),
  });
}

/** JSON for the live updates. */
export function jsonAnswer(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    headers: headers({ 'content-type': 'application/json; charset=utf-8' }, []),
  });
}

/** 303 See Other to a path below the console's mount point (after a POST, the browser GETs it). */
export function redirectAnswer(
  state: ConsoleRequestState,
  path: string,
  cookies: readonly string[] = [],
): Response {
  return new Response(null, {
    status: 303,
    headers: headers({ location: `${state.base}/${path}` }, cookies),
  });
}

/** A static asset of the module. */
export function assetAnswer(body: string, type: string): Response {
  return new Response(body, {
    headers: headers({ 'content-type': type, 'cache-control': 'max-age=300' }, []),
  });
}
