import type { AppendRequest } from './append-request';

// Positions in `AppendRequest.params` (see `encodeAppend`).
const WRITES = 4;
const ENCODINGS = 12;
const BYTES = 13;
const TAGS = 14;
const TAG_COUNTS = 15;

/**
 * The parameters of `append_batch_v8` (all but the last, `p_notify`) for several appends, in
 * order: `p_appends` (per write, its append, 1-based), then each append's arrays concatenated, with
 * every event's write index shifted past the earlier appends' writes.
 */
export function batchParams(requests: readonly AppendRequest[]): unknown[] {
  if (requests.length === 1) {
    const { params, writeCount } = requests[0]!;
    return [new Array<number>(writeCount).fill(1), ...params];
  }
  const columns = requests[0]!.params.length;
  const merged: (unknown[] | null)[] = Array.from({ length: columns }, () => []);
  const appends: number[] = [];
  let writesBefore = 0;
  for (let a = 0; a < requests.length; a++) {
    const { params, events, writeCount } = requests[a]!;
    for (let w = 0; w < writeCount; w++) appends.push(a + 1);
    for (let c = 0; c < columns; c++) {
      const target = merged[c]!;
      const column = params[c] as unknown[] | null;
      if (c === WRITES) {
        for (const w of column as number[]) target.push(w + writesBefore);
      } else if (c === TAGS) {
        // Flattened: an append without tags adds none.
        if (column !== null) for (const tag of column) target.push(tag);
      } else if (c === TAG_COUNTS && column === null) {
        for (let e = 0; e < events.length; e++) target.push(0);
      } else if (column === null) {
        // The binary columns of an all-JSON append: NULL per event.
        for (let e = 0; e < events.length; e++) target.push(null);
      } else {
        for (const value of column) target.push(value);
      }
    }
    writesBefore += writeCount;
  }
  // All JSON: NULL arrays, as a single append sends them.
  if (requests.every((r) => r.params[ENCODINGS] === null)) merged[ENCODINGS] = merged[BYTES] = null;
  if (requests.every((r) => r.params[TAGS] === null)) merged[TAGS] = merged[TAG_COUNTS] = null;
  return [appends, ...merged];
}
