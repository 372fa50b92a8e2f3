import { InvalidQueryError } from '../errors';
import { unstorableTextReason } from '../util/unstorable-text';
import type { AppendCondition, EventQuery, EventQueryReadOptions, QueryItem } from './event-query';
import { streamIdProblem } from './stream-id';

/** Most events one DCB read returns (the dcb.events `limit`), as for a `readAll` page. */
export const MAX_READ_LIMIT = 10_000;

const QUERY_KEYS: ReadonlySet<string> = new Set(['items']);
const ITEM_KEYS: ReadonlySet<string> = new Set(['types', 'tags']);
const READ_OPTION_KEYS: ReadonlySet<string> = new Set(['from', 'backwards', 'limit']);
const CONDITION_KEYS: ReadonlySet<string> = new Set(['failIfEventsMatch', 'after']);

/**
 * Checks a DCB query before any I/O, so that every adapter refuses a malformed one alike: items
 * combined with OR, each with optional `types` (non-empty strings) and `tags` (valid tags, see
 * {@link tagProblem}). Unknown keys are refused: a misspelt `tag` would otherwise silently widen
 * the query to every event.
 * @param label how the reason names the query, e.g. `condition.failIfEventsMatch`
 * @throws InvalidQueryError naming what is wrong
 */
export function validateQuery(query: unknown, label = 'query'): asserts query is EventQuery {
  if (!isRecord(query)) {
    throw new InvalidQueryError(`${label} must be an object, not ${show(query)}`);
  }
  refuseUnknownKeys(query, QUERY_KEYS, label);
  const items = query.items;
  if (!Array.isArray(items)) {
    throw new InvalidQueryError(`${label}.items must be an array, not ${show(items)}`);
  }
  for (let i = 0; i < items.length; i++) validateItem(items[i], `${label}.items[${i}]`);
}

function validateItem(item: unknown, label: string): asserts item is QueryItem {
  if (!isRecord(item)) {
    throw new InvalidQueryError(`${label} must be an object, not ${show(item)}`);
  }
  refuseUnknownKeys(item, ITEM_KEYS, label);
  const types = stringList(item.types, `${label}.types`);
  for (let t = 0; t < types.length; t++) {
    const type = types[t]!;
    const unstorable = unstorableTextReason(type);
    const problem =
      type.length === 0
        ? 'it is empty'
        : unstorable === undefined
          ? undefined
          : `it contains ${unstorable}`;
    if (problem !== undefined) {
      throw new InvalidQueryError(
        `${label}.types[${t}] ${show(type)} is not an event type: ${problem}`,
      );
    }
  }
  const tags = stringList(item.tags, `${label}.tags`);
  for (let t = 0; t < tags.length; t++) {
    const problem = tagProblem(tags[t]);
    if (problem !== undefined) {
      throw new InvalidQueryError(
        `${label}.tags[${t}] ${show(tags[t])} is not a valid tag: ${problem}`,
      );
    }
  }
}

/** The strings of an optional list; refuses anything but an array of strings. */
function stringList(value: unknown, label: string): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new InvalidQueryError(`${label} must be an array of strings, not ${show(value)}`);
  }
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') {
      throw new InvalidQueryError(`${label}[${i}] must be a string, not ${show(value[i])}`);
    }
  }
  return value as readonly string[];
}

/**
 * Checks the options of a DCB read: `from` a non-negative safe integer, `backwards` a boolean,
 * `limit` an integer from 1 to 10,000; all optional, nothing else.
 * @throws InvalidQueryError naming the option
 */
export function validateReadOptions(options: unknown): asserts options is EventQueryReadOptions {
  if (options === undefined) return;
  if (!isRecord(options)) {
    throw new InvalidQueryError(`the read options must be an object, not ${show(options)}`);
  }
  refuseUnknownKeys(options, READ_OPTION_KEYS, 'the read options');
  const { from, backwards, limit } = options;
  if (from !== undefined && !isPosition(from)) {
    throw new InvalidQueryError(
      `read option from must be a global position (an integer >= 0), not ${show(from)}`,
    );
  }
  if (backwards !== undefined && typeof backwards !== 'boolean') {
    throw new InvalidQueryError(`read option backwards must be a boolean, not ${show(backwards)}`);
  }
  if (
    limit !== undefined &&
    !(Number.isSafeInteger(limit) && (limit as number) >= 1 && (limit as number) <= MAX_READ_LIMIT)
  ) {
    throw new InvalidQueryError(
      `read option limit must be an integer from 1 to ${MAX_READ_LIMIT}, not ${show(limit)}`,
    );
  }
}

/**
 * Checks an append condition: `failIfEventsMatch` a valid query, `after` a non-negative safe
 * integer or absent; nothing else.
 * @throws InvalidQueryError naming what is wrong
 */
export function validateCondition(condition: unknown): asserts condition is AppendCondition {
  if (!isRecord(condition)) {
    throw new InvalidQueryError(`the append condition must be an object, not ${show(condition)}`);
  }
  refuseUnknownKeys(condition, CONDITION_KEYS, 'the append condition');
  validateQuery(condition.failIfEventsMatch, 'condition.failIfEventsMatch');
  if (condition.after !== undefined && !isPosition(condition.after)) {
    throw new InvalidQueryError(
      `condition.after must be a global position (an integer >= 0) or absent, not ${show(condition.after)}`,
    );
  }
}

/**
 * Why `value` is not a valid DCB tag, or `undefined` when it is one. A tag follows the stream-id
 * rules (1–255 characters, used exactly as given, no control characters, none of `* ? [ ]`, no
 * leading `$`), so that every store can index and compare it the same way.
 */
export function tagProblem(value: unknown): string | undefined {
  return streamIdProblem(value);
}

/**
 * Builds a predicate that tells whether an event matches `query` (a validated one): an item
 * matches when the event's type is one of its `types` (if any) and its tags include every one of
 * the item's `tags` (if any); the query matches when any item does, and no item matches all.
 * For adapters that filter in process.
 */
export function compileQuery(
  query: EventQuery,
): (event: { readonly type: string; readonly tags: readonly string[] }) => boolean {
  const items = query.items.map((item) => ({
    types: item.types !== undefined && item.types.length > 0 ? new Set(item.types) : undefined,
    tags: item.tags !== undefined && item.tags.length > 0 ? item.tags : undefined,
  }));
  if (items.length === 0 || items.some((i) => i.types === undefined && i.tags === undefined)) {
    return () => true;
  }
  return (event) =>
    items.some(
      ({ types, tags }) =>
        (types === undefined || types.has(event.type)) &&
        (tags === undefined || tags.every((tag) => event.tags.includes(tag))),
    );
}

function isPosition(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refuseUnknownKeys(
  value: Record<string, unknown>,
  allowed: ReadonlySet<string>,
  label: string,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw new InvalidQueryError(
        `${label} has an unknown key ${show(key)} (allowed: ${[...allowed].join(', ')})`,
      );
    }
  }
}

/** A short description of a value for a reason: strings quoted (and cut), others by kind. */
function show(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
}
