import { createHash } from 'node:crypto';
import type { RecordedEvent } from '../events/event';
import { IdempotencyKeyReuseError, InvalidOptionsError } from '../errors';
import { streamOfUnstreamedEvent } from '../store/event-query';
import type { EventStore } from '../store/event-store';
import { type StreamId, systemStreamId } from '../store/stream-id';
import type { CommandResult } from './command-result';

/** Type of the record EventCore writes, in the same atomic append, for a command run with an idempotency key. */
export const IDEMPOTENCY_RECORD_TYPE = '$CommandExecuted';

/** Data of an idempotency record: enough to return the first result again. */
export interface IdempotencyRecord {
  readonly commandName: string;
  readonly commandId: string;
  readonly fingerprint: string;
  readonly eventIds: readonly string[];
  readonly streamVersions: Readonly<Record<string, number>>;
  /**
   * Those of `eventIds` appended in no stream (`ctx.append`): each is in a stream of its own, read
   * back to replay the result. Absent when none.
   */
  readonly unstreamedEventIds?: readonly string[];
}

// eslint-disable-next-line no-control-regex
const KEY_PATTERN = /^[^\u0000-\u001f\u007f-\u009f]{1,200}$/;

/**
 * The system stream that records a key's use. The key is hashed so that any printable key makes a
 * valid, fixed-length stream id.
 * @throws InvalidOptionsError for an empty, over-long or non-printable key.
 */
export function idempotencyStream(commandName: string, key: string): StreamId {
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
    throw new InvalidOptionsError('idempotencyKey', 'use 1–200 printable characters');
  }
  const digest = createHash('sha256').update(commandName).update('\0').update(key).digest('hex');
  return systemStreamId(`idempotency-${digest}`);
}

/** A digest of the command's input, to tell a retry of the same request from a reused key. */
export function commandFingerprint(command: object): string {
  return createHash('sha256').update(canonicalJson(command)).digest('hex');
}

/**
 * JSON with sorted keys, following `JSON.stringify`'s rules so that two inputs get the same
 * fingerprint exactly when they serialise alike: `toJSON()` is honoured (a `Date` is its ISO
 * string, not `{}`), and members whose value is `undefined` or a function are left out (a property
 * set to `undefined` is the same input as a missing one). Maps and Sets, which JSON would flatten to
 * `{}`, are written as their entries so that different contents never collide.
 */
function canonicalJson(value: unknown): string {
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    return canonicalJson((value as { toJSON(): unknown }).toJSON());
  }
  if (value instanceof Map) return `{"$map":${canonicalJson([...value.entries()])}}`;
  if (value instanceof Set) return `{"$set":${canonicalJson([...value.values()])}}`;
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined && typeof record[k] !== 'function')
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Rebuilds the result of the first execution from its idempotency record.
 * @throws IdempotencyKeyReuseError when the key was used with different input.
 */
export async function replayResult(
  store: EventStore,
  recordEvent: RecordedEvent,
  fingerprint: string,
  key: string,
  attempts: number,
): Promise<CommandResult> {
  const record = recordEvent.data as IdempotencyRecord;
  if (record.fingerprint !== fingerprint)
    throw new IdempotencyKeyReuseError(record.commandName, key);
  const streams = Object.keys(record.streamVersions) as StreamId[];
  for (const id of record.unstreamedEventIds ?? []) {
    streams.push(streamOfUnstreamedEvent(id) as StreamId);
  }
  const read = await store.readStreams(streams);
  const ids = new Set(record.eventIds);
  return {
    commandId: record.commandId,
    commandName: record.commandName,
    events: read.events.filter((event) => ids.has(event.id)),
    streamVersions: record.streamVersions,
    position: read.position,
    attempts,
    replayed: true,
  };
}
