/**
 * Text no event store can hold: PostgreSQL's `text` and `jsonb` refuse the NUL character, and
 * UTF-8 (the wire and storage encoding) has no form for a UTF-16 surrogate without its pair. The
 * in-memory store could keep both, so the check lives here, for every store alike.
 */

/** Why a string cannot be stored. */
export type UnstorableTextReason = 'a NUL character' | 'an unpaired UTF-16 surrogate';

/** Where an unstorable string was found, and why it cannot be stored. */
export interface UnstorableText {
  /** Dotted path from the walked value, e.g. `items.0.name`; a key is shown as `["key"]`. */
  readonly path: string;
  readonly reason: UnstorableTextReason;
  /** True when the offending string is an object key rather than a value. */
  readonly inKey: boolean;
}

// Most strings have neither a NUL nor any surrogate: one cheap test settles them.
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why `text` cannot be stored by any EventCore store (a NUL character, an unpaired UTF-16
 * surrogate), or `undefined` when it can: the rule appends and the HTTP pipe apply, for your own
 * input checks.
 */
export function unstorableTextReason(text: string): UnstorableTextReason | undefined {
  if (!SUSPECT.test(text)) return undefined;
  if (text.includes('\u0000')) return 'a NUL character';
  return LONE_SURROGATE.test(text) ? 'an unpaired UTF-16 surrogate' : undefined;
}

/** Visits at most this many values; beyond it the store's own encoding step still refuses. */
const MAX_VISITS = 100_000;

/**
 * Finds the first string (value or key) in `value` that cannot be stored, walking plain objects,
 * class instances and arrays by their own enumerable keys. Iterative (no recursion, so deep
 * nesting cannot overflow the stack), each object visited once (cycles end the walk, they do not
 * loop it), and bounded to {@link MAX_VISITS} values.
 * @param prefix path of `value` itself, e.g. `data`; `''` for the root.
 */
export function findUnstorableText(value: unknown, prefix = ''): UnstorableText | undefined {
  if (typeof value === 'string') {
    const reason = unstorableTextReason(value);
    return reason === undefined ? undefined : { path: prefix, reason, inKey: false };
  }
  if (typeof value !== 'object' || value === null) return undefined;
  // Most events are flat: the stacks and the set of visited objects are made only once a nested
  // object appears.
  let paths: string[] | undefined;
  let objects: object[] | undefined;
  let seen: Set<object> | undefined;
  let visits = 0;
  let object: object | undefined = value;
  let path = prefix;
  while (object !== undefined) {
    for (const key of Object.keys(object)) {
      if (++visits > MAX_VISITS) return undefined;
      const keyReason = unstorableTextReason(key);
      if (keyReason !== undefined) {
        return { path: join(path, key), reason: keyReason, inKey: true };
      }
      const child = (object as Record<string, unknown>)[key];
      if (typeof child === 'string') {
        const reason = unstorableTextReason(child);
        if (reason !== undefined) return { path: join(path, key), reason, inKey: false };
      } else if (typeof child === 'object' && child !== null) {
        seen ??= new Set([value]);
        if (seen.has(child)) continue;
        seen.add(child);
        (objects ??= []).push(child);
        (paths ??= []).push(join(path, key));
      }
    }
    object = objects?.pop();
    path = paths?.pop() ?? '';
  }
  return undefined;
}

const IDENTIFIER = /^[A-Za-z0-9_$]+$/;

function join(path: string, key: string): string {
  const part = IDENTIFIER.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (path === '' || part.startsWith('[')) return `${path}${part}`;
  return `${path}.${part}`;
}
