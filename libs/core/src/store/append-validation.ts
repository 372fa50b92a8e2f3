import type { EventToAppend } from '../events/event';
import { EventSerializationError, InvalidAppendError, UnstorableTextError } from '../errors';
import { findUnstorableText, type UnstorableText } from '../util/unstorable-text';
import { satisfies } from './expected-version';
import type { StreamConflict } from '../errors';
import type { StreamWrite } from './event-store';
import type { AppendOptions } from './event-query';
import { streamOfUnstreamedEvent, UNSTREAMED_PREFIX } from './event-query';
import { tagProblem, validateCondition } from './event-query.validation';
import { isSystemStream, streamIdProblem } from './stream-id';

/** Most tags one event may carry: each costs an index entry and, for conditions, a lock key. */
export const MAX_TAGS_PER_EVENT = 64;

const APPEND_OPTION_KEYS: ReadonlySet<string> = new Set(['condition', 'events']);
const NO_EVENTS: readonly EventToAppend[] = Object.freeze([]);

/**
 * Checks the shape of an append request before any I/O: the stream writes, the events in no
 * stream and the condition of `options`. Every adapter calls this so that a malformed request
 * fails the same way everywhere and nothing is half-written.
 * @throws InvalidAppendError for a malformed write, event or tag
 * @throws InvalidQueryError for a malformed `options.condition`
 */
export function validateWrites(writes: readonly StreamWrite[], options?: AppendOptions): void {
  if (!Array.isArray(writes)) {
    throw new InvalidAppendError('the stream writes must be an array');
  }
  const unstreamed = unstreamedEvents(options);
  if (writes.length === 0 && unstreamed.length === 0) {
    throw new InvalidAppendError(
      'an append needs at least one stream write or one event in no stream (options.events)',
    );
  }
  const seen = writes.length > 1 ? new Set<string>() : undefined; // one write cannot repeat
  for (const write of writes) {
    const id = write?.streamId as unknown;
    const problem = streamIdProblem(
      typeof id === 'string' && isSystemStream(id) ? id.slice(1) : id,
    );
    if (problem !== undefined || (id as string).trim() !== id) {
      throw new InvalidAppendError(
        `stream id ${JSON.stringify(id)} is invalid: ${problem ?? 'it is not trimmed'}`,
      );
    }
    if ((id as string).startsWith(UNSTREAMED_PREFIX)) {
      throw new InvalidAppendError(
        `stream id ${JSON.stringify(id)} is reserved for events in no stream; append such events through options.events`,
      );
    }
    if (seen?.has(id as string)) {
      throw new InvalidAppendError(
        `stream "${String(id)}" appears more than once; merge its events into one write`,
      );
    }
    seen?.add(id as string);
    validateExpected(write);
    if (!Array.isArray(write.events)) {
      throw new InvalidAppendError(`events of stream "${String(id)}" must be an array`);
    }
  }
  const groups =
    unstreamed.length === 0
      ? writes.map((w) => w.events)
      : [...writes.map((w) => w.events), unstreamed];
  // While event ids increase (UUIDv7 ids made in sequence do), none can repeat and no set is
  // needed; the first id out of order starts a set of the ids before it.
  let lastId = '';
  let eventIds: Set<string> | undefined;
  let lastMetadata: EventToAppend['metadata'] | undefined;
  for (let g = 0; g < groups.length; g++) {
    const streamName = g < writes.length ? String(writes[g]!.streamId) : undefined;
    const events = groups[g]!;
    for (let e = 0; e < events.length; e++) {
      const event = events[e]!;
      validateEvent(streamName, event, lastMetadata);
      lastMetadata = event.metadata;
      if (eventIds === undefined) {
        if (event.id > lastId) {
          lastId = event.id;
          continue;
        }
        eventIds = idsBefore(groups, g, e);
      }
      if (eventIds.has(event.id)) {
        throw new InvalidAppendError(
          `event id ${event.id} appears more than once; every event needs its own id`,
        );
      }
      eventIds.add(event.id);
    }
  }
}

/**
 * The events in no stream of an append's options, after checking the options' shape and
 * condition.
 */
function unstreamedEvents(options: unknown): readonly EventToAppend[] {
  if (options === undefined) return NO_EVENTS;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidAppendError('the append options must be an object');
  }
  for (const key of Object.keys(options)) {
    // A misspelt `condition` would otherwise write without the guard the caller asked for.
    if (!APPEND_OPTION_KEYS.has(key)) {
      throw new InvalidAppendError(
        `the append options have an unknown key ${JSON.stringify(key)} (allowed: condition, events)`,
      );
    }
  }
  const { condition, events } = options as AppendOptions;
  if (condition !== undefined) validateCondition(condition);
  if (events === undefined) return NO_EVENTS;
  if (!Array.isArray(events)) {
    throw new InvalidAppendError('options.events (the events in no stream) must be an array');
  }
  return events;
}

/** The ids of the events before event `e` of group `g`. */
function idsBefore(
  groups: readonly (readonly EventToAppend[])[],
  g: number,
  e: number,
): Set<string> {
  const ids = new Set<string>();
  for (let i = 0; i <= g; i++) {
    const events = groups[i]!;
    for (let j = 0; j < (i === g ? e : events.length); j++) ids.add(events[j]!.id);
  }
  return ids;
}

function validateExpected(write: StreamWrite): void {
  const expected = write.expected;
  const ok =
    expected !== undefined &&
    (expected.kind === 'any' ||
      expected.kind === 'exists' ||
      (expected.kind === 'exact' &&
        Number.isSafeInteger(expected.version) &&
        expected.version >= 0));
  if (!ok) {
    throw new InvalidAppendError(
      `expected version of stream "${write.streamId}" must be exact(n >= 0), any or exists`,
    );
  }
}

// Canonical base64 (padded, unused bits zero): one text per byte string, so that every adapter,
// storing text or bytes, returns exactly the text it was given.
const BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Where an event is, for a message: made only when one is thrown, as building it for every valid
 * event cost a string per event.
 */
function whereOf(streamName: string | undefined): string {
  return streamName === undefined ? 'in no stream' : `for stream "${streamName}"`;
}

/**
 * @param streamName the stream of the event, undefined for an event in no stream
 * @param checked the metadata object of the event before it in this append, whose text was checked
 *   already: the events of a command or an import share one, checked once
 */
function validateEvent(
  streamName: string | undefined,
  event: EventToAppend,
  checked: EventToAppend['metadata'] | undefined,
): void {
  if (typeof event !== 'object' || event === null) {
    throw new InvalidAppendError(`an event ${whereOf(streamName)} is not an object`);
  }
  if (typeof event.id !== 'string' || event.id.length === 0) {
    throw new InvalidAppendError(`an event ${whereOf(streamName)} has no id`);
  }
  if (typeof event.type !== 'string' || event.type.trim().length === 0 || event.type.length > 255) {
    throw new InvalidAppendError(
      `event ${event.id} ${whereOf(streamName)} needs a type of 1–255 characters`,
    );
  }
  const m = event.metadata;
  if (
    typeof m !== 'object' ||
    m === null ||
    typeof m.correlationId !== 'string' ||
    typeof m.causationId !== 'string'
  ) {
    throw new InvalidAppendError(
      `event ${event.id} ${whereOf(streamName)} needs metadata with correlationId and causationId`,
    );
  }
  if (m.userId !== undefined && m.userId !== null && typeof m.userId !== 'string') {
    throw new InvalidAppendError(
      `event ${event.id} ${whereOf(streamName)} has a userId that is not a string`,
    );
  }
  if (
    m.custom !== undefined &&
    (typeof m.custom !== 'object' || m.custom === null || Array.isArray(m.custom))
  ) {
    throw new InvalidAppendError(
      `event ${event.id} ${whereOf(streamName)} has custom metadata that is not an object`,
    );
  }
  if (!isInstant(event.occurredAt)) {
    throw new InvalidAppendError(
      `event ${event.id} ${whereOf(streamName)} needs occurredAt as Date#toISOString() gives it (YYYY-MM-DDTHH:mm:ss.sssZ)`,
    );
  }
  if (event.encoding !== undefined && event.encoding !== 'json') {
    if (typeof event.encoding !== 'string' || !/^[a-z0-9.-]{1,32}$/.test(event.encoding)) {
      throw new InvalidAppendError(
        `event ${event.id} ${whereOf(streamName)} has an invalid encoding name`,
      );
    }
    if (typeof event.data !== 'string' || !BASE64.test(event.data)) {
      throw new InvalidAppendError(
        `event ${event.id} ${whereOf(streamName)} is encoded as ${event.encoding}: its data must be the base64 of the bytes`,
      );
    }
  }
  const version = event.schemaVersion ?? 1;
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new InvalidAppendError(
      `event ${event.id} ${whereOf(streamName)} has schemaVersion ${String(version)}; use an integer >= 1`,
    );
  }
  validateTags(event, streamName);
  validateText(
    streamName,
    event,
    event.encoding === undefined || event.encoding === 'json',
    m === checked,
  );
}

/** Tags are optional; given, they are valid tags, each once, at most {@link MAX_TAGS_PER_EVENT}. */
function validateTags(event: EventToAppend, streamName: string | undefined): void {
  const tags = event.tags as unknown;
  if (tags === undefined) return;
  const which = `event ${event.id} (${JSON.stringify(event.type)}) ${whereOf(streamName)}`;
  if (!Array.isArray(tags)) {
    throw new InvalidAppendError(`${which} has tags that are not an array of strings`);
  }
  if (tags.length > MAX_TAGS_PER_EVENT) {
    throw new InvalidAppendError(
      `${which} has ${tags.length} tags, more than ${MAX_TAGS_PER_EVENT}`,
    );
  }
  for (const tag of tags) {
    const problem = tagProblem(tag);
    if (problem !== undefined) {
      throw new InvalidAppendError(`${which} has an invalid tag ${describeTag(tag)}: ${problem}`);
    }
  }
  if (tags.length < 2) return;
  const seen = new Set<string>();
  for (const tag of tags as string[]) {
    if (seen.has(tag)) {
      throw new InvalidAppendError(
        `${which} has the tag ${describeTag(tag)} twice; give each tag once`,
      );
    }
    seen.add(tag);
  }
}

function describeTag(tag: unknown): string {
  if (typeof tag !== 'string') return `(${tag === null ? 'null' : typeof tag})`;
  return JSON.stringify(tag.length > 80 ? `${tag.slice(0, 80)}…` : tag);
}

/**
 * Refuses a NUL character or an unpaired surrogate in any string of the event, value or key:
 * PostgreSQL cannot hold them, and the in-memory store must refuse what it refuses.
 * @throws UnstorableTextError naming where the string is
 */
function validateText(
  streamName: string | undefined,
  event: EventToAppend,
  json: boolean,
  metadataChecked: boolean,
): void {
  const m = event.metadata;
  const found =
    findUnstorableText(event.type, 'type') ??
    (metadataChecked ? undefined : metadataText(m)) ??
    // Binary data was checked as base64 text above.
    (json ? findUnstorableText(event.data, 'data') : undefined);
  if (found !== undefined) {
    throw new UnstorableTextError(
      streamName ?? streamOfUnstreamedEvent(event.id),
      event.type,
      found.inKey ? `the key ${found.path}` : found.path,
      found.reason,
    );
  }
}

function metadataText(m: EventToAppend['metadata']): UnstorableText | undefined {
  return (
    findUnstorableText(m.correlationId, 'metadata.correlationId') ??
    findUnstorableText(m.causationId, 'metadata.causationId') ??
    findUnstorableText(m.userId, 'metadata.userId') ??
    findUnstorableText(m.custom, 'metadata.custom')
  );
}

/** The last string {@link isInstant} accepted: the events of one append usually share it. */
let lastInstant = '';

/** One exact format (Date#toISOString), so that every adapter returns the string it was given. */
function isInstant(value: unknown): boolean {
  if (value === lastInstant) return true;
  if (typeof value !== 'string' || !ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
    return false;
  }
  lastInstant = value;
  return true;
}

/**
 * Encodes a JSON value once, refusing what JSON cannot represent faithfully (BigInt, cycles).
 * @throws EventSerializationError
 */
export function encodeJson(streamId: string, type: string, value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (text === undefined) throw new Error('the value is undefined or a function');
    return text;
  } catch (error) {
    throw new EventSerializationError(streamId, type, (error as Error).message, { cause: error });
  }
}

/** Lists every write whose expectation does not hold, given the current version of each stream. */
export function findConflicts(
  writes: readonly StreamWrite[],
  versionOf: (streamId: string) => number,
): StreamConflict[] {
  const conflicts: StreamConflict[] = [];
  for (const write of writes) {
    const actual = versionOf(write.streamId);
    if (!satisfies(write.expected, actual)) {
      conflicts.push({ streamId: write.streamId, expected: write.expected, actual });
    }
  }
  return conflicts;
}
