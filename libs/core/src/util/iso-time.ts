let lastMillis = Number.NaN;
let lastText = '';

/**
 * `new Date(millis).toISOString()`, remembered for the last millisecond asked: every event written
 * in the same millisecond shares one string instead of formatting it again.
 * @throws RangeError for an invalid time, like `toISOString`.
 */
export function isoTime(millis: number): string {
  if (millis !== lastMillis) {
    lastText = new Date(millis).toISOString();
    lastMillis = millis;
  }
  return lastText;
}
