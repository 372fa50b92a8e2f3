import type { EventToAppend } from '../events/event';
import { EventSerializationError, InvalidAppendError, UnstorableTextError } from '../errors';
import { findUnstorableText } from '../util/unstorable-text';
import { satisfies } from './expected-version';
import type { StreamConflict } from '../errors';
import type { StreamWrite } from './event-store';
import { isSystemStream, streamIdProblem } from './stream-id';

/**
 * Checks the shape of an append request before any I/O. Every adapter calls this so that a
 * malformed request fails the same way everywhere and nothing is half-written.
 * @throws InvalidAppendError
 */
export function validateWrites(writes: readonly StreamWrite[]): void {
  if (!Array.isArray(writes) || writes.length === 0) {
    throw new InvalidAppendError('an append needs at least one stream write');
  }
  const seen = writes.length > 1 ? new Set<string>() : undefined; // one write cannot repeat
  // While event ids increase (UUIDv7 ids made in sequence do), none can repeat and no set is
  // needed; the first id out of order starts a set of the ids before it.
  let lastId = '';
  let eventIds: Set<string> | undefined;
  for (let w = 0; w < writes.length; w++) {
    const write = writes[w]!;
    const id = write?.streamId as unknown;
    const problem = streamIdProblem(
      typeof id === 'string' && isSystemStream(id) ? id.slice(1) : id,
    );
    if (problem !== undefined || (id as string).trim() !== id) {
      throw new InvalidAppendError(
        `stream id ${JSON.stringify(id)} is invalid: ${problem ?? 'it is not trimmed'}`,
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
    for (let e = 0; e < write.events.length; e++) {
      const event = write.events[e]!;
      validateEvent(String(id), event);
      if (eventIds === undefined) {
        if (event.id > lastId) {
          lastId = event.id;
          continue;
        }
        eventIds = idsBefore(writes, w, e);
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

/** The ids of the events before event `e` of write `w`. */
function idsBefore(writes: readonly StreamWrite[], w: number, e: number): Set<string> {
  const ids = new Set<string>();
  for (let i = 0; i <= w; i++) {
    const events = writes[i]!.events;
    for (let j = 0; j < (i === w ? e : events.length); j++) ids.add(events[j]!.id);
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

function validateEvent(streamId: string, event: EventToAppend): void {
  if (typeof event !== 'object' || event === null) {
    throw new InvalidAppendError(`an event for stream "${streamId}" is not an object`);
  }
  if (typeof event.id !== 'string' || event.id.length === 0) {
    throw new InvalidAppendError(`an event for stream "${streamId}" has no id`);
  }
  if (typeof event.type !== 'string' || event.type.trim().length === 0 || event.type.length > 255) {
    throw new InvalidAppendError(
      `event ${event.id} for stream "${streamId}" needs a type of 1–255 characters`,
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
      `event ${event.id} for stream "${streamId}" needs metadata with correlationId and causationId`,
    );
  }
  if (m.userId !== undefined && m.userId !== null && typeof m.userId !== 'string') {
    throw new InvalidAppendError(
      `event ${event.id} for stream "${streamId}" has a userId that is not a string`,
    );
  }
  if (
    m.custom !== undefined &&
    (typeof m.custom !== 'object' || m.custom === null || Array.isArray(m.custom))
  ) {
    throw new InvalidAppendError(
      `event ${event.id} for stream "${streamId}" has custom metadata that is not an object`,
    );
  }
  if (!isInstant(event.occurredAt)) {
    throw new InvalidAppendError(
      `event ${event.id} for stream "${streamId}" needs occurredAt as Date#toISOString() gives it (YYYY-MM-DDTHH:mm:ss.sssZ)`,
    );
  }
  if (event.encoding !== undefined && event.encoding !== 'json') {
    if (typeof event.encoding !== 'string' || !/^[a-z0-9.-]{1,32}$/.test(event.encoding)) {
      throw new InvalidAppendError(
        `event ${event.id} for stream "${streamId}" has an invalid encoding name`,
      );
    }
    if (typeof event.data !== 'string' || !BASE64.test(event.data)) {
      throw new InvalidAppendError(
        `event ${event.id} for stream "${streamId}" is encoded as ${event.encoding}: its data must be the base64 of the bytes`,
      );
    }
  }
  const version = event.schemaVersion ?? 1;
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new InvalidAppendError(
      `event ${event.id} for stream "${streamId}" has schemaVersion ${String(version)}; use an integer >= 1`,
    );
  }
  validateText(streamId, event, event.encoding === undefined || event.encoding === 'json');
}

/**
 * Refuses a NUL character or an unpaired surrogate in any string of the event, value or key:
 * PostgreSQL cannot hold them, and the in-memory store must refuse what it refuses.
 * @throws UnstorableTextError naming where the string is
 */
function validateText(streamId: string, event: EventToAppend, json: boolean): void {
  const m = event.metadata;
  const found =
    findUnstorableText(event.type, 'type') ??
    findUnstorableText(m.correlationId, 'metadata.correlationId') ??
    findUnstorableText(m.causationId, 'metadata.causationId') ??
    findUnstorableText(m.userId, 'metadata.userId') ??
    findUnstorableText(m.custom, 'metadata.custom') ??
    // Binary data was checked as base64 text above.
    (json ? findUnstorableText(event.data, 'data') : undefined);
  if (found !== undefined) {
    throw new UnstorableTextError(
      streamId,
      event.type,
      found.inKey ? `the key ${found.path}` : found.path,
      found.reason,
    );
  }
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
