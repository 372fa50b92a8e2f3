import type { EventSerializer } from '../events/event-serializer';
import { InvalidOptionsError } from '../errors';
import {
  checkKeep,
  checkSnapshot,
  checkSnapshotKey,
  checkSnapshotScope,
  type CommandSnapshot,
  JSON_SNAPSHOT_SERIALIZER,
  type SnapshotKey,
  type SnapshotLoad,
  type SnapshotScope,
  type SnapshotStore,
} from '../snapshot/snapshot-store';
import type { EventStore } from '../store/event-store';

/** Options of {@link InMemorySnapshotStore}. */
export interface InMemorySnapshotStoreOptions {
  /** @default JSON */
  readonly serializer?: EventSerializer;
}

/**
 * Snapshots in process memory over any event store (usually the `InMemoryEventStore`), for tests
 * and prototypes. States are kept serialised, as a database would keep them, so decoding is
 * exercised; nothing survives the process.
 */
export class InMemorySnapshotStore implements SnapshotStore {
  readonly serializer: EventSerializer;
  /** Snapshots by scope, oldest first. */
  private readonly scopes = new Map<string, CommandSnapshot[]>();

  constructor(
    private readonly events: EventStore,
    options: InMemorySnapshotStoreOptions = {},
  ) {
    if (events === undefined || events === null || typeof events.readStreams !== 'function') {
      throw new InvalidOptionsError('event store', 'pass the EventStore the snapshots summarise');
    }
    this.serializer = options.serializer ?? JSON_SNAPSHOT_SERIALIZER;
  }

  async load(key: SnapshotKey): Promise<SnapshotLoad> {
    checkSnapshotKey(key);
    const read = await this.events.readStreams(key.boundary);
    const current = key.boundary.map((id) => read.versions.get(id) ?? 0);
    const candidates = this.scopes.get(scopeKey(key)) ?? [];
    let found: CommandSnapshot | undefined;
    for (let i = candidates.length - 1; i >= 0 && found === undefined; i--) {
      const candidate = candidates[i]!;
      // A snapshot ahead of its streams (a log restored from an older backup) is never used.
      if (
        candidate.stateVersion === key.stateVersion &&
        candidate.fingerprint === key.fingerprint &&
        candidate.versions.every((version, s) => version <= current[s]!)
      ) {
        found = candidate;
      }
    }
    if (found === undefined) return { snapshot: undefined, ...read };
    const after = new Map(key.boundary.map((id, s) => [id, found.versions[s]!]));
    return {
      snapshot: { versions: found.versions, encoding: found.encoding, state: found.state.slice() },
      events: read.events.filter((event) => event.streamVersion > after.get(event.streamId)!),
      versions: read.versions,
      position: read.position,
    };
  }

  async save(snapshot: CommandSnapshot): Promise<void> {
    checkSnapshot(snapshot);
    const key = scopeKey(snapshot);
    let list = this.scopes.get(key);
    if (list === undefined) this.scopes.set(key, (list = []));
    list.push(
      Object.freeze({
        commandName: snapshot.commandName,
        boundary: Object.freeze([...snapshot.boundary]),
        versions: Object.freeze([...snapshot.versions]),
        stateVersion: snapshot.stateVersion,
        fingerprint: snapshot.fingerprint,
        encoding: snapshot.encoding,
        state: snapshot.state.slice(),
      }),
    );
  }

  async prune(scope: SnapshotScope, keep: number): Promise<number> {
    checkSnapshotScope(scope);
    checkKeep(keep);
    const list = this.scopes.get(scopeKey(scope));
    if (list === undefined || list.length <= keep) return 0;
    return list.splice(0, list.length - keep).length;
  }

  /** How many snapshots are kept for a scope (for tests). */
  count(scope: SnapshotScope): number {
    return this.scopes.get(scopeKey(scope))?.length ?? 0;
  }
}

function scopeKey(scope: SnapshotScope): string {
  return JSON.stringify([scope.commandName, scope.boundary]);
}
