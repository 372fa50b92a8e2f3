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
 * A map from a command class and its declared boundary to its last known state, that evicts the
 * entry written least recently (a command that uses an entry successfully writes it again). An
 * entry is only a hint: the append still checks exact versions, so a stale entry costs a conflict
 * and a fresh read, never a wrong write.
 *
 * Entries are kept per command class, under a key of the boundary alone (for one stream, its id:
 * nothing to build or hash anew per command), and in `order` by snapshot for eviction.
 */
export class StateCache {
  private readonly byOwner = new Map<object, Map<string, StateSnapshot>>();
  /** Every entry, least recently written first, with its key. */
  private readonly order = new Map<StateSnapshot, string>();
  /**
   * Newest version seen of each stream by any command of this executor. A snapshot older than it
   * is stale for sure; skipping it saves the conflicting append (staleness caused by other
   * processes still shows up as a conflict).
   */
  private readonly latest = new Map<StreamId, number>();

  constructor(readonly maxEntries: number) {}

  /** Records versions seen in a read or written by an append. */
  observe(versions: ReadonlyMap<StreamId, number>): void {
    // forEach, not for-of: no entry array per stream.
    versions.forEach(this.see);
    while (this.latest.size > this.maxEntries * 8)
      this.latest.delete(this.latest.keys().next().value as StreamId);
  }

  private readonly see = (version: number, id: StreamId): void => {
    if ((this.latest.get(id) ?? -1) >= version) return;
    this.latest.delete(id);
    this.latest.set(id, version);
  };

  get(owner: object, key: string): StateSnapshot | undefined {
    const entry = this.byOwner.get(owner)?.get(key);
    if (entry === undefined) return undefined;
    for (let i = 0; i < entry.boundary.length; i++) {
      const version = entry.versions[i]!;
      if ((this.latest.get(entry.boundary[i]!) ?? version) > version) {
        this.delete(owner, key);
        return undefined;
      }
    }
    // Not moved to the end here: a successful command moves it when it writes the new state.
    return entry;
  }

  set(key: string, snapshot: StateSnapshot): void {
    let entries = this.byOwner.get(snapshot.owner);
    if (entries === undefined) this.byOwner.set(snapshot.owner, (entries = new Map()));
    const previous = entries.get(key);
    if (previous !== undefined) this.order.delete(previous);
    entries.set(key, snapshot);
    this.order.set(snapshot, key);
    if (this.order.size > this.maxEntries) {
      const [oldest, oldestKey] = this.order.entries().next().value as [StateSnapshot, string];
      this.delete(oldest.owner, oldestKey);
    }
  }

  delete(owner: object, key: string): void {
    const entries = this.byOwner.get(owner);
    const entry = entries?.get(key);
    if (entry === undefined) return;
    entries!.delete(key);
    this.order.delete(entry);
    if (entries!.size === 0) this.byOwner.delete(owner);
  }

  get size(): number {
    return this.order.size;
  }
}

/**
 * The cache key of a boundary (the class is the cache's other key): its streams as a set. The
 * state does not depend on their order — the events are folded in global order whatever it is —
 * so a transfer from a to b and one from b to a share an entry (see {@link alignedTo}).
 */
export function stateCacheKey(boundary: readonly StreamId[]): string {
  if (boundary.length === 1) return boundary[0]!;
  if (boundary.length === 2) {
    const [a, b] = boundary as readonly [StreamId, StreamId];
    return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
  }
  return [...boundary].sort().join('\u0000');
}

/**
 * A cached snapshot with its streams in `boundary`'s order (the same set, by its key): the append
 * writes the streams in that order, as it would after a read, so a cached decision writes exactly
 * what a fresh one would.
 */
export function alignedTo(snapshot: StateSnapshot, boundary: readonly StreamId[]): StateSnapshot {
  const cached = snapshot.boundary;
  if (cached === boundary || cached.every((id, i) => id === boundary[i])) return snapshot;
  return {
    ...snapshot,
    boundary,
    versions: boundary.map((id) => snapshot.versions[cached.indexOf(id)]!),
  };
}
