import type { RecordedEvent } from '../events/event';

/**
 * Answers "is an event with this id stored?" for the in-memory store. An id that sorts after every
 * stored id cannot be one of them, and ids made by one process with {@link newEventId} (UUIDv7)
 * always do; so the common case is one string comparison, with no set of every id ever written
 * (whose lookups and growth cost more than the rest of an append). Other ids are looked up in a
 * set built from the log the first time one comes, and kept up to date from then on.
 */
export class StoredIds {
  /** The greatest stored id; '' sorts before every valid (non-empty) id. */
  private greatest = '';
  private index: Set<string> | undefined;
  /** How many events of the log are in `index`. */
  private indexed = 0;

  constructor(private readonly log: readonly RecordedEvent[]) {}

  has(id: string): boolean {
    if (id > this.greatest) return false;
    const index = (this.index ??= new Set());
    while (this.indexed < this.log.length) index.add(this.log[this.indexed++]!.id);
    return index.has(id);
  }

  /** Records that an event with this id has been appended to the log. */
  add(id: string): void {
    if (id > this.greatest) this.greatest = id;
  }
}
