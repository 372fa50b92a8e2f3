import type { AppendCondition, EventQuery, EventQueryReadOptions } from '@eventcore/core';
import { invalidRequest, type RequestFailure } from '../http/request-limits';

/** An event as the dcb.events protocol sends it: `data` is opaque text (the suite sends JSON). */
export interface DcbProtocolEvent {
  /** The event type, 1–255 characters. */
  readonly type: string;
  /** Opaque text, stored and read back exactly as sent. */
  readonly data: string;
  /** Tags, validated like stream ids; possibly empty, no duplicates. */
  readonly tags: readonly string[];
}

/** An event as `GET /read` answers it; `position` is the event's `globalPosition`. */
export interface DcbProtocolSequencedEvent {
  /** The event type. */
  readonly type: string;
  /** The event's tags, in the order they were given; empty when none. */
  readonly tags: readonly string[];
  /** As appended: the text sent through this protocol, the JSON value a command wrote. */
  readonly data: unknown;
  /** The event's `globalPosition`: what `from` and a condition's `after` take. */
  readonly position: number;
}

/**
 * What `POST /append` answers, with status 200 whether or not the condition held (the protocol
 * reports a failed condition in the body, not as an HTTP error).
 */
export interface DcbProtocolAppendResponse {
  /** How long the store took to append (or to refuse), in whole microseconds. */
  readonly durationInMicroseconds: number;
  /** True when the append condition failed: nothing was written. */
  readonly appendConditionFailed: boolean;
}

/** A parsed `GET /read`: the query and options still unchecked, for the store's own validation. */
export interface DcbReadRequest {
  readonly query: EventQuery;
  readonly options: EventQueryReadOptions | undefined;
}

/** A parsed `POST /append`: events of the protocol's shape; the condition still unchecked. */
export interface DcbAppendRequest {
  readonly events: readonly DcbProtocolEvent[];
  readonly condition: AppendCondition | undefined;
}

const APPEND_KEYS = new Set(['events', 'condition']);
const EVENT_KEYS = new Set(['type', 'data', 'tags']);

/**
 * Parses the two URL parameters of `GET /read?query=<json>&options=<json>`. Only their JSON is
 * checked here; what the query and options mean is checked by the store (`InvalidQueryError`).
 * @throws BadRequestException `request.invalid` naming `query` or `options`
 */
export function parseReadRequest(query: unknown, options: unknown): DcbReadRequest {
  const failures: RequestFailure[] = [];
  const parsedQuery = parseJsonParameter('query', query, true, failures);
  const parsedOptions = parseJsonParameter('options', options, false, failures);
  if (failures.length > 0) throw invalidRequest(failures);
  return {
    query: parsedQuery as EventQuery,
    options: parsedOptions as EventQueryReadOptions | undefined,
  };
}

function parseJsonParameter(
  name: string,
  value: unknown,
  required: boolean,
  failures: RequestFailure[],
): unknown {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') {
    failures.push({
      property: name,
      constraints: {
        json: `${name} must be given once, as URL-encoded JSON (encodeURIComponent(JSON.stringify(${name})))`,
      },
    });
    return undefined;
  }
  try {
    return JSON.parse(value) as unknown;
  } catch {
    failures.push({ property: name, constraints: { json: `${name} is not valid JSON` } });
    return undefined;
  }
}

/**
 * Checks the shape of a `POST /append` body, `{ events: [{ type, data, tags }], condition? }`,
 * listing every failing field. The tags and the condition are checked by the store, with the rules
 * every append follows.
 * @throws BadRequestException `request.invalid`
 */
export function parseAppendRequest(body: unknown): DcbAppendRequest {
  const failures: RequestFailure[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest([
      {
        property: 'body',
        constraints: { isObject: 'the body must be a JSON object { events, condition? }' },
      },
    ]);
  }
  const given = body as Record<string, unknown>;
  unknownKeys(given, APPEND_KEYS, '', failures);
  const events = given.events;
  if (!Array.isArray(events) || events.length === 0) {
    failures.push({
      property: 'events',
      constraints: { arrayNotEmpty: 'events must be a non-empty array of { type, data, tags }' },
    });
  } else {
    events.forEach((event, index) => checkEvent(event, `events.${index}`, failures));
  }
  if (failures.length > 0) throw invalidRequest(failures);
  return {
    events: events as DcbProtocolEvent[],
    condition: given.condition as AppendCondition | undefined,
  };
}

function checkEvent(event: unknown, path: string, failures: RequestFailure[]): void {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    failures.push({
      property: path,
      constraints: { isObject: `${path} must be an object { type, data, tags }` },
    });
    return;
  }
  const given = event as Record<string, unknown>;
  unknownKeys(given, EVENT_KEYS, path, failures);
  if (typeof given.type !== 'string') {
    failures.push({
      property: `${path}.type`,
      constraints: { isString: `${path}.type must be a string` },
    });
  }
  // The protocol's data is opaque text: kept a string, it comes back exactly as sent.
  if (typeof given.data !== 'string') {
    failures.push({
      property: `${path}.data`,
      constraints: {
        isString: `${path}.data must be a string (e.g. JSON.stringify of the payload)`,
      },
    });
  }
  if (!Array.isArray(given.tags) || !given.tags.every((tag) => typeof tag === 'string')) {
    failures.push({
      property: `${path}.tags`,
      constraints: { isArray: `${path}.tags must be an array of strings (possibly empty)` },
    });
  }
}

function unknownKeys(
  given: Record<string, unknown>,
  known: ReadonlySet<string>,
  path: string,
  failures: RequestFailure[],
): void {
  for (const key of Object.keys(given)) {
    if (known.has(key)) continue;
    const property = path === '' ? key : `${path}.${key}`;
    failures.push({
      property,
      constraints: { whitelistValidation: `property ${key} should not exist` },
    });
  }
}
