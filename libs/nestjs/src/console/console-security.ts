import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** Cookie holding the CSRF token; each form echoes it in {@link CSRF_FIELD} (double submit). */
export const CSRF_COOKIE = 'eventcore_console_csrf';
/** Form field carrying the CSRF token. */
export const CSRF_FIELD = '_csrf';
/** Cookie of a browser signed in with the admin token. */
export const SESSION_COOKIE = 'eventcore_console_session';
/** How long a sign-in lasts. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

/** A fresh random CSRF token (256 bits, base64url). */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** True when both tokens are present and equal (compared in constant time). */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || a.length === 0) return false;
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The cookies of a `Cookie` header (first value wins; undecodable values are skipped). */
export function parseCookies(header: unknown): Map<string, string> {
  const cookies = new Map<string, string>();
  if (typeof header !== 'string') return cookies;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    if (cookies.has(name)) continue;
    try {
      cookies.set(name, decodeURIComponent(part.slice(at + 1).trim()));
    } catch {
      // Not ours: our values are base64url and digits.
    }
  }
  return cookies;
}

/** Attributes of the console's cookies: scoped to its path, never readable by scripts, same-site only. */
export interface CookieScope {
  readonly path: string;
  readonly secure: boolean;
}

/** A `Set-Cookie` value; `maxAgeSeconds` 0 deletes the cookie. */
export function cookie(
  name: string,
  value: string,
  scope: CookieScope,
  maxAgeSeconds?: number,
): string {
  return [
    `${name}=${value}`,
    `Path=${scope.path}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(scope.secure ? ['Secure'] : []),
    ...(maxAgeSeconds === undefined ? [] : [`Max-Age=${maxAgeSeconds}`]),
  ].join('; ');
}

/**
 * Stateless sessions signed with a key derived from the admin token: any instance sharing the
 * token accepts them, and changing the token signs everyone out.
 */
export class ConsoleSessions {
  private readonly key: Buffer;
  private readonly tokenDigest: Buffer;

  constructor(token: string) {
    this.key = createHash('sha256').update(`eventcore-console-session\0${token}`).digest();
    this.tokenDigest = sha256(token);
  }

  /** True when `given` is the admin token (constant time). */
  isToken(given: string): boolean {
    return timingSafeEqual(sha256(given), this.tokenDigest);
  }

  /** A session value valid until `now + SESSION_TTL_MS`. */
  issue(now: number): string {
    const expires = String(now + SESSION_TTL_MS);
    return `${expires}.${this.sign(expires)}`;
  }

  /** True for an unexpired session this key signed. */
  verify(value: string | undefined, now: number): boolean {
    if (value === undefined) return false;
    const [expires, signature, extra] = value.split('.');
    if (extra !== undefined || !expires || !signature || !/^\d{1,16}$/.test(expires)) return false;
    return sameToken(signature, this.sign(expires)) && Number(expires) > now;
  }

  private sign(expires: string): string {
    return createHmac('sha256', this.key).update(expires).digest('base64url');
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** True for 127.0.0.0/8 and ::1, IPv4-mapped forms included. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  // Node reports IPv6 loopback in its canonical form only.
  return address === '::1';
}

/**
 * True when the `Host` header names this machine (`localhost`, a loopback address), any port. A
 * page of another site that rebinds its own name to 127.0.0.1 sends its name here, and is refused.
 */
export function isLoopbackHost(host: unknown): boolean {
  if (typeof host !== 'string') return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  const lower = name.toLowerCase();
  return lower === 'localhost' || lower.endsWith('.localhost') || isLoopbackAddress(lower);
}

/**
 * False when the request says it comes from another origin: an `Origin` header whose host is not
 * the `Host` header, or `Sec-Fetch-Site: cross-site`. Requests without either (old browsers,
 * scripts) are left to the CSRF token.
 */
export function sameOrigin(headers: Readonly<Record<string, unknown>>): boolean {
  if (headers['sec-fetch-site'] === 'cross-site') return false;
  const origin = headers.origin;
  if (typeof origin !== 'string') return true;
  if (origin === 'null') return false;
  try {
    return new URL(origin).host === headers.host;
  } catch {
    return false;
  }
}
