import type { Position } from '../store/event-store';
import type { StreamId } from '../store/stream-id';

/** A command's folded state at known stream versions. */
export interface StateSnapshot {
  /** The command class whose `apply` produced the state. */
  readonly owner: object;
  readonly state: unknown;
  /** The streams of the boundary, discovered ones included. */
  readonly boundary: readonly StreamId[];
  /** The version of each stream of `boundary`, at the same index. */
  readonly versions: readonly number[];
  readonly position: Position;
}

/**
 * A map from a command's declared boundary to its last known state that evicts the entry written
 * least recently (a command that uses an entry successfully writes it again). An entry is only a
 * hint: the append still checks exact versions, so a stale entry costs a conflict and a fresh read,
 * never a wrong write.
 */
export class StateCache {
  private readonly entries = new Map<string, StateSnapshot>();
  /**
   * Newest version seen of each stream by any command of this executor. A snapshot older than it
   * is stale for sure; skipping it saves the conflicting append (staleness caused by other
   * processes still shows up as a conflict).
   */
  private readonly latest = new Map<StreamId, number>();

  constructor(readonly maxEntries: number) {}

  /** Records versions seen in a read or written by an append. */
  observe(versions: Iterable<readonly [StreamId, number]>): void {
    for (const [id, version] of versions) {
      if ((this.latest.get(id) ?? -1) >= version) continue;
      this.latest.delete(id);
      this.latest.set(id, version);
    }
    while (this.latest.size > this.maxEntries * 8)
      this.latest.delete(this.latest.keys().next().value as StreamId);
  }

  get(key: string, owner: object): StateSnapshot | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.owner !== owner) return undefined;
    for (let i = 0; i < entry.boundary.length; i++) {
      const version = entry.versions[i]!;
      if ((this.latest.get(entry.boundary[i]!) ?? version) > version) {
        this.entries.delete(key);
        return undefined;
      }
    }
    // Not moved to the end here: a Map delete and insert cost more than the rest of the lookup,
    // and a successful command moves the entry anyway when it writes the new state.
    return entry;
  }

  set(key: string, snapshot: StateSnapshot): void {
    this.entries.delete(key);
    this.entries.set(key, snapshot);
    if (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The cache key of a command class and its declared streams. */
export function stateCacheKey(commandName: string, declared: readonly StreamId[]): string {
  return `${commandName}\u0000${declared.join('\u0000')}`;
}
