import { randomFillSync } from 'node:crypto';

/** ASCII codes of the two hex digits of every byte: HEX_CODES[2b] and HEX_CODES[2b + 1]. */
const HEX_CODES = Uint8Array.from({ length: 512 }, (_, i) =>
  (i >> 1)
    .toString(16)
    .padStart(2, '0')
    .charCodeAt(i & 1),
);
/** Where each of the 16 bytes goes in the 36 characters of the text form. */
const BYTE_OFFSETS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const DASH = 0x2d;
/** Character codes of the id being rendered, dashes in place; reused by every call. */
const chars: number[] = Array.from({ length: 36 }, () => DASH);
const uuid = new Uint8Array(16);
const POOL_SIZE = 16 * 512;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * Where `count` fresh random bytes start in `pool`, refilled in bulk: one system call per 512 ids
 * instead of one per id.
 */
function takeRandom(count: number): number {
  if (poolOffset + count > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += count;
  return at;
}

let lastMillis = -Infinity;
let sequence = 0;

/**
 * A new event id: a UUIDv7 (RFC 9562) whose first 48 bits are the Unix time in milliseconds,
 * followed by a 31-bit counter seeded at random each millisecond ("method 1" of the RFC), so ids
 * made by one process are strictly increasing even within a millisecond or when the clock steps
 * back.
 */
export function newEventId(): string {
  const random = takeRandom(10);
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    sequence =
      ((pool[random]! & 0x3f) << 24) |
      (pool[random + 1]! << 16) |
      (pool[random + 2]! << 8) |
      pool[random + 3]!;
  } else {
    sequence = (sequence + 1) | 0;
    if (sequence < 0 || sequence > 0x7fffffff) {
      // Counter exhausted within one millisecond: borrow the next millisecond.
      lastMillis++;
      sequence = 0;
    }
  }
  const ms = lastMillis;
  uuid[0] = Math.floor(ms / 0x10000000000) & 0xff;
  uuid[1] = Math.floor(ms / 0x100000000) & 0xff;
  uuid[2] = Math.floor(ms / 0x1000000) & 0xff;
  uuid[3] = Math.floor(ms / 0x10000) & 0xff;
  uuid[4] = Math.floor(ms / 0x100) & 0xff;
  uuid[5] = ms & 0xff;
  uuid[6] = 0x70 | ((sequence >>> 27) & 0x0f);
  uuid[7] = (sequence >>> 19) & 0xff;
  uuid[8] = 0x80 | ((sequence >>> 13) & 0x3f);
  uuid[9] = (sequence >>> 5) & 0xff;
  uuid[10] = ((sequence << 3) & 0xf8) | (pool[random + 4]! & 0x07);
  for (let i = 11; i < 16; i++) uuid[i] = pool[random + i - 6]!;
  return render(uuid);
}

/**
 * The text form of 16 bytes, as one flat string. Joining 20 pieces with `+` made a tree of ~20
 * string nodes per id (about 480 bytes, kept as long as the event is), and cost more time too.
 */
function render(bytes: Uint8Array): string {
  for (let i = 0; i < 16; i++) {
    const at = BYTE_OFFSETS[i]!;
    chars[at] = HEX_CODES[2 * bytes[i]!]!;
    chars[at + 1] = HEX_CODES[2 * bytes[i]! + 1]!;
  }
  return String.fromCharCode.apply(null, chars);
}
