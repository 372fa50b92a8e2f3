import { v7 as uuidv7 } from 'uuid';

/**
 * A new event id: a UUIDv7, time-ordered and monotonic within this process (uuid's v7 keeps a
 * sequence counter, so ids made in the same millisecond still sort in creation order).
 */
export function newEventId(): string {
  return uuidv7();
}
