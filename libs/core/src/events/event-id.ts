import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_SIZE = 16 * 512;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** Random bytes from a pool refilled in bulk: one system call per 512 ids instead of one per id. */
function randomBytes(count: number): Buffer {
  if (poolOffset + count > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + count);
  poolOffset += count;
  return bytes;
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
  const random = randomBytes(10);
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    sequence = ((random[0]! & 0x3f) << 24) | (random[1]! << 16) | (random[2]! << 8) | random[3]!;
  } else {
    sequence = (sequence + 1) | 0;
    if (sequence < 0 || sequence > 0x7fffffff) {
      // Counter exhausted within one millisecond: borrow the next millisecond.
      lastMillis++;
      sequence = 0;
    }
  }
  const ms = lastMillis;
  const b0 = Math.floor(ms / 0x10000000000) & 0xff;
  const b1 = Math.floor(ms / 0x100000000) & 0xff;
  const b2 = Math.floor(ms / 0x1000000) & 0xff;
  const b3 = Math.floor(ms / 0x10000) & 0xff;
  const b4 = Math.floor(ms / 0x100) & 0xff;
  const b5 = ms & 0xff;
  const b6 = 0x70 | ((sequence >>> 27) & 0x0f);
  const b7 = (sequence >>> 19) & 0xff;
  const b8 = 0x80 | ((sequence >>> 13) & 0x3f);
  const b9 = (sequence >>> 5) & 0xff;
  const b10 = ((sequence << 3) & 0xf8) | (random[4]! & 0x07);
  return (
    HEX[b0]! +
    HEX[b1]! +
    HEX[b2]! +
    HEX[b3]! +
    '-' +
    HEX[b4]! +
    HEX[b5]! +
    '-' +
    HEX[b6]! +
    HEX[b7]! +
    '-' +
    HEX[b8]! +
    HEX[b9]! +
    '-' +
    HEX[b10]! +
    HEX[random[5]!]! +
    HEX[random[6]!]! +
    HEX[random[7]!]! +
    HEX[random[8]!]! +
    HEX[random[9]!]!
  );
}
