import { InvalidStreamIdError } from '../errors';

/** A validated stream identifier: use {@link streamId} to make one. */
export type StreamId = string & { readonly __brand: 'eventcore.StreamId' };

/** Longest stream id accepted, in UTF-16 code units (fits an indexed varchar(255) column). */
export const MAX_STREAM_ID_LENGTH = 255;

// Control characters (C0, DEL, C1) and the glob metacharacters reserved for stream patterns.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const PATTERN_CHARACTERS = /[*?[\]]/;
/** Either of the above: one test for the usual, valid id. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f-\u009f*?[\]]/;

/** Prefix of streams EventCore writes for itself (idempotency records); user ids may not use it. */
export const SYSTEM_STREAM_PREFIX = '$';

/**
 * Validates and trims `value` into a {@link StreamId}.
 * @throws InvalidStreamIdError when the id is empty, longer than 255 characters, contains control
 * characters or any of `* ? [ ]`, or starts with the reserved `$`.
 */
export function streamId(value: string): StreamId {
  const reason = streamIdProblem(value);
  if (reason !== undefined) throw new InvalidStreamIdError(value, reason);
  return value.trim() as StreamId;
}

/** The reason `value` is not a valid stream id, or `undefined` when it is one (after trimming). */
export function streamIdProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'it must be a string';
  const trimmed = value.trim();
  if (trimmed.length === 0) return 'it is empty';
  if (trimmed.length > MAX_STREAM_ID_LENGTH)
    return `it has ${trimmed.length} characters, more than ${MAX_STREAM_ID_LENGTH}`;
  if (FORBIDDEN_CHARACTERS.test(trimmed)) {
    if (CONTROL_CHARACTERS.test(trimmed)) return 'it contains a control character';
    if (PATTERN_CHARACTERS.test(trimmed))
      return 'it contains one of * ? [ ], reserved for stream patterns';
  }
  if (trimmed.startsWith(SYSTEM_STREAM_PREFIX)) return 'it starts with "$", reserved for EventCore';
  return undefined;
}

/** Builds a stream id for EventCore's own records; bypasses the reserved-prefix rule only. */
export function systemStreamId(name: string): StreamId {
  const id = `${SYSTEM_STREAM_PREFIX}${name}`;
  const reason = streamIdProblem(name);
  if (reason !== undefined || id.length > MAX_STREAM_ID_LENGTH) {
    throw new InvalidStreamIdError(id, reason ?? 'it is too long');
  }
  return id as StreamId;
}

/** True for ids made by {@link systemStreamId}. */
export function isSystemStream(id: string): boolean {
  return id.startsWith(SYSTEM_STREAM_PREFIX);
}
