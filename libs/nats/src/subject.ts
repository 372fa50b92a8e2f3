import { InvalidOptionsError } from '@eventcore/core';

/** Streams of events a DCB query appended without a stream: `$event-<event id>`. */
const UNSTREAMED_PREFIX = '$event-';

/**
 * What a subject token cannot hold as is: `%` (the escape itself), NATS's separator and wildcards
 * (`.`, `*`, `>`), whitespace (a subject ends at the first space) and control characters. Any other
 * character, Unicode letters included, passes unchanged so subjects stay readable.
 */
const NEEDS_ESCAPE = /[%.*>\s\p{Cc}\p{Cf}]/gu;
/** A lone surrogate has no UTF-8 form: such a token could not round-trip. */
const LONE_SURROGATE = /\p{Cs}/u;
const ESCAPED = /(?:%[0-9A-F]{2})+/g;
const encoder = new TextEncoder();

/**
 * Escapes one subject token: each character of `% . * >`, whitespace, control and format
 * characters becomes the `%XX` of its UTF-8 bytes (upper-case hex); everything else is kept.
 * `unescapeSubjectToken` reverses it exactly.
 * @throws InvalidOptionsError for an empty token or one with a lone surrogate.
 */
export function escapeSubjectToken(token: string, what = 'subject token'): string {
  if (typeof token !== 'string' || token === '') {
    throw new InvalidOptionsError(
      what,
      'a NATS subject token cannot be empty; give the event a non-empty stream id and type',
    );
  }
  if (LONE_SURROGATE.test(token)) {
    throw new InvalidOptionsError(
      what,
      `${JSON.stringify(token)} holds a lone UTF-16 surrogate, which has no UTF-8 form`,
    );
  }
  return percentEscape(token);
}

/** The escaping of {@link escapeSubjectToken}, which an empty text also passes (header values). */
export function percentEscape(text: string): string {
  return text.replace(NEEDS_ESCAPE, (char) =>
    Array.from(
      encoder.encode(char),
      (byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    ).join(''),
  );
}

/**
 * Reverses {@link escapeSubjectToken}.
 * @throws InvalidOptionsError when a `%XX` sequence is not UTF-8.
 */
export function unescapeSubjectToken(token: string): string {
  try {
    return token.replace(ESCAPED, (bytes) => decodeURIComponent(bytes));
  } catch {
    throw new InvalidOptionsError(
      'subject token',
      `${JSON.stringify(token)} has a %XX sequence that is not UTF-8; it was not escaped by EventCore`,
    );
  }
}

/**
 * The category of a stream id: the part before its first `-`, or the whole id when it has none
 * (`account-42` → `account`, `inbox` → `inbox`). Events appended by a DCB query without a stream
 * live in `$event-<event id>` streams, so their category is `$event`.
 */
export function streamCategory(streamId: string): string {
  if (streamId.startsWith(UNSTREAMED_PREFIX)) return UNSTREAMED_PREFIX.slice(0, -1);
  const dash = streamId.indexOf('-');
  return dash <= 0 ? streamId : streamId.slice(0, dash);
}

/** The parts of an event subject, unescaped. */
export interface EventSubjectParts {
  /** `default` until multi-tenancy exists; see the forwarder's `tenant` option. */
  readonly tenant: string;
  /** See {@link streamCategory}. */
  readonly category: string;
  /** The event type. */
  readonly type: string;
}

/**
 * The subject an event is published on: `<prefix>.<tenant>.<category>.<type>`, each of the three
 * last tokens escaped with {@link escapeSubjectToken}.
 */
export function eventSubject(prefix: string, parts: EventSubjectParts): string {
  return [
    prefix,
    escapeSubjectToken(parts.tenant, 'tenant'),
    escapeSubjectToken(parts.category, 'stream category'),
    escapeSubjectToken(parts.type, 'event type'),
  ].join('.');
}

/**
 * Splits a subject made by {@link eventSubject} back into its parts; undefined when it is not
 * under `prefix` or has not exactly three more tokens.
 */
export function parseEventSubject(prefix: string, subject: string): EventSubjectParts | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined;
  const tokens = subject.slice(prefix.length + 1).split('.');
  if (tokens.length !== 3) return undefined;
  const [tenant, category, type] = tokens.map(unescapeSubjectToken) as [string, string, string];
  return { tenant, category, type };
}

/**
 * Checks a subject prefix: one or more `.`-separated tokens, none empty, without wildcards,
 * whitespace or control characters.
 * @throws InvalidOptionsError naming `what`.
 */
export function checkSubjectPrefix(prefix: unknown, what: string): string {
  const tokens = typeof prefix === 'string' ? prefix.split('.') : [];
  const bad = tokens.length === 0 || tokens.some((t) => t === '' || /[*>\s\p{Cc}]/u.test(t));
  if (bad) {
    throw new InvalidOptionsError(
      what,
      `${JSON.stringify(prefix)} is not a NATS subject prefix; use dot-separated tokens without spaces, '*' or '>', e.g. 'eventcore.bank'`,
    );
  }
  return prefix as string;
}
