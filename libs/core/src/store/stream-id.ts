import { InvalidStreamIdError } from '../errors';
import { unstorableTextReason } from '../util/unstorable-text';

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
 * Validates `value` into a {@link StreamId}, unchanged: an id is never normalised (no trimming, no
 * Unicode normalisation), so two different strings never name one stream.
 * @throws InvalidStreamIdError when the id is empty, has leading or trailing whitespace, is longer
 * than 255 characters, contains control characters, an unpaired surrogate or any of `* ? [ ]`,
 * or starts with the reserved `$`.
 */
export function streamId(value: string): StreamId {
  const reason = streamIdProblem(value);
  if (reason !== undefined) throw new InvalidStreamIdError(value, reason);
  return value as StreamId;
}

/** The reason `value` is not a valid stream id, or `undefined` when it is one exactly as given. */
export function streamIdProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'it must be a string';
  if (value.length === 0) return 'it is empty';
  if (value.length > MAX_STREAM_ID_LENGTH)
    return `it has ${value.length} characters, more than ${MAX_STREAM_ID_LENGTH}`;
  // Refused rather than trimmed: ' a' and 'a' would otherwise name one stream. String#trim's notion
  // of whitespace (Unicode White_Space, BOM, line terminators) is the rule.
  if (value.trim() !== value) {
    return value.trim().length === 0
      ? 'it is only whitespace'
      : 'it has leading or trailing whitespace';
  }
  if (FORBIDDEN_CHARACTERS.test(value)) {
    if (CONTROL_CHARACTERS.test(value)) return 'it contains a control character';
    if (PATTERN_CHARACTERS.test(value))
      return 'it contains one of * ? [ ], reserved for stream patterns';
  }
  if (value.startsWith(SYSTEM_STREAM_PREFIX)) return 'it starts with "$", reserved for EventCore';
  // NUL is a control character (above); a lone surrogate has no UTF-8 form, so PostgreSQL refuses it.
  if (unstorableTextReason(value) !== undefined) return 'it contains an unpaired UTF-16 surrogate';
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
