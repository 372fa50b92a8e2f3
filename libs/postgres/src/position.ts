import { InvalidPositionError, type Position } from '@eventcore/core';

/**
 * Position tokens of the PostgreSQL store: `<transaction id>:<global position>`, both decimal.
 * The log is ordered by (transaction id, global position) — see `read.sql.ts` for why — so the
 * token carries both. Callers treat it as opaque; only this module builds or reads one.
 */
export interface LogPosition {
  /** xid8 of the writing transaction, decimal. */
  readonly transactionId: string;
  /** Global position (the events sequence), decimal. */
  readonly globalPosition: string;
}

/** Before the first event. */
export const START: LogPosition = Object.freeze({ transactionId: '0', globalPosition: '0' });

const TOKEN = /^(0|[1-9]\d{0,19}):(0|[1-9]\d{0,18})$/;
const MAX_XID8 = 2n ** 64n - 1n;
const MAX_BIGINT = 2n ** 63n - 1n;

export function encodePosition(position: LogPosition): Position {
  return `${position.transactionId}:${position.globalPosition}` as Position;
}

/**
 * Reads a token made by {@link encodePosition}.
 * @throws InvalidPositionError for anything else.
 */
export function decodePosition(token: unknown): LogPosition {
  const match = typeof token === 'string' ? TOKEN.exec(token) : null;
  if (match === null || BigInt(match[1]!) > MAX_XID8 || BigInt(match[2]!) > MAX_BIGINT) {
    throw new InvalidPositionError(token);
  }
  return { transactionId: match[1]!, globalPosition: match[2]! };
}

/** Orders two positions by (transaction id, global position). */
export function comparePositions(a: LogPosition, b: LogPosition): number {
  return (
    compareDecimal(a.transactionId, b.transactionId) ||
    compareDecimal(a.globalPosition, b.globalPosition)
  );
}

// Decimal strings without leading zeros: the longer is larger; same length compares as text.
function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
