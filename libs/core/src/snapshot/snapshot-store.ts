import type { RecordedEvent } from '../events/event';
import type { EventSerializer } from '../events/event-serializer';
import { InvalidOptionsError } from '../errors';
import type { Position } from '../store/event-store';
import { type StreamId, streamIdProblem } from '../store/stream-id';

/** Which snapshots belong together: one command class over one exact boundary. */
export interface SnapshotScope {
  /** The command's name (`@Command({ name })` or its class name). */
  readonly commandName: string;
  /** The streams of the boundary, discovered ones included, sorted, each once. */
  readonly boundary: readonly StreamId[];
}

/** What a snapshot must match to be used: its scope, the user's state version and the decoding. */
export interface SnapshotKey extends SnapshotScope {
  /** Bumped by the user when `apply` or the state's shape changes. */
  readonly stateVersion: number;
  /** Of the registered (type, schema version, upcaster) set: see `EventTypeRegistry.fingerprint`. */
  readonly fingerprint: string;
}

/** A command's folded state over one boundary at exact stream versions, serialised. */
export interface CommandSnapshot extends SnapshotKey {
  /** The version of each stream of `boundary`, at the same index. */
  readonly versions: readonly number[];
  /** The format of the serializer that wrote `state`. */
  readonly encoding: string;
  readonly state: Uint8Array;
}

/** What {@link SnapshotStore.load} answers: the newest valid snapshot and the events after it. */
export interface SnapshotLoad {
  /** Undefined when no snapshot of the key exists (or none is behind the streams' versions). */
  readonly snapshot: Pick<CommandSnapshot, 'versions' | 'encoding' | 'state'> | undefined;
  /** The boundary's events after the snapshot's versions (all of them without one), in global order. */
  readonly events: readonly RecordedEvent[];
  /** The current version of every stream of the boundary (0 for one that does not exist). */
  readonly versions: ReadonlyMap<StreamId, number>;
  /** A position at or after every event read, as `readStreams` returns. */
  readonly position: Position;
}

/**
 * Where command-state snapshots are kept, beside the event store they summarise. Pass one to the
 * executor's `snapshots` option; `InMemorySnapshotStore` and the PostgreSQL adapter's
 * `PostgresSnapshotStore` implement it.
 */
export interface SnapshotStore {
  /** Serialises states: the executor snapshots only a state this round trip leaves unchanged. */
  readonly serializer: EventSerializer;
  /**
   * The newest snapshot of `key` that is not ahead of its streams, and the boundary's events after
   * it, in one consistent read (one round trip where the store has a network).
   * @throws InvalidOptionsError for a malformed key.
   */
  load(key: SnapshotKey): Promise<SnapshotLoad>;
  /**
   * Stores a snapshot. Never part of an append: the executor calls it in the background.
   * @throws InvalidOptionsError for a malformed snapshot.
   */
  save(snapshot: CommandSnapshot): Promise<void>;
  /**
   * Deletes all but the newest `keep` snapshots of a scope, whatever their state version or
   * fingerprint; returns how many were deleted.
   * @throws InvalidOptionsError for a malformed scope or `keep`.
   */
  prune(scope: SnapshotScope, keep: number): Promise<number>;
}

/** Serialises states as UTF-8 JSON: the default of every snapshot store. */
export const JSON_SNAPSHOT_SERIALIZER: EventSerializer = Object.freeze({
  format: 'json',
  serialize(state: unknown): Uint8Array {
    const text = JSON.stringify(state) as string | undefined;
    // JSON.stringify(undefined) is undefined: no snapshot can hold that state.
    if (text === undefined) throw new TypeError('the state has no JSON form');
    return Buffer.from(text, 'utf8');
  },
  deserialize(bytes: Uint8Array): unknown {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  },
});

/**
 * Checks a scope given to a snapshot store.
 * @throws InvalidOptionsError naming what is wrong.
 */
export function checkSnapshotScope(scope: SnapshotScope): void {
  if (typeof scope !== 'object' || scope === null) {
    throw new InvalidOptionsError('snapshot scope', 'pass { commandName, boundary }');
  }
  if (typeof scope.commandName !== 'string' || scope.commandName.length === 0) {
    throw new InvalidOptionsError('snapshot commandName', 'use the non-empty name of the command');
  }
  const boundary = scope.boundary;
  if (!Array.isArray(boundary) || boundary.length === 0) {
    throw new InvalidOptionsError('snapshot boundary', 'use a non-empty array of stream ids');
  }
  for (let i = 0; i < boundary.length; i++) {
    const problem = streamIdProblem(boundary[i]);
    if (problem !== undefined) {
      throw new InvalidOptionsError(`snapshot boundary[${i}]`, `not a stream id: ${problem}`);
    }
    if (i > 0 && !(boundary[i - 1]! < boundary[i]!)) {
      throw new InvalidOptionsError(
        'snapshot boundary',
        'sort the stream ids and list each once (a boundary is a set)',
      );
    }
  }
}

/**
 * Checks a key given to a snapshot store.
 * @throws InvalidOptionsError naming what is wrong.
 */
export function checkSnapshotKey(key: SnapshotKey): void {
  checkSnapshotScope(key);
  if (!Number.isSafeInteger(key.stateVersion) || key.stateVersion < 1) {
    throw new InvalidOptionsError(
      'snapshot stateVersion',
      `use an integer >= 1, got ${String(key.stateVersion)}`,
    );
  }
  if (typeof key.fingerprint !== 'string' || key.fingerprint.length === 0) {
    throw new InvalidOptionsError(
      'snapshot fingerprint',
      'use EventTypeRegistry.fingerprint() (or the one of an empty registry)',
    );
  }
}

/**
 * Checks a snapshot given to a snapshot store.
 * @throws InvalidOptionsError naming what is wrong.
 */
export function checkSnapshot(snapshot: CommandSnapshot): void {
  checkSnapshotKey(snapshot);
  const { versions, boundary } = snapshot;
  if (!Array.isArray(versions) || versions.length !== boundary.length) {
    throw new InvalidOptionsError(
      'snapshot versions',
      'give one version per stream of the boundary, at the same index',
    );
  }
  for (const version of versions) {
    if (!Number.isSafeInteger(version) || version < 0) {
      throw new InvalidOptionsError(
        'snapshot versions',
        `use integers >= 0, got ${String(version)}`,
      );
    }
  }
  if (typeof snapshot.encoding !== 'string' || snapshot.encoding.length === 0) {
    throw new InvalidOptionsError('snapshot encoding', "use the serializer's format");
  }
  if (!(snapshot.state instanceof Uint8Array)) {
    throw new InvalidOptionsError('snapshot state', 'pass the serialised state as a Uint8Array');
  }
}

/**
 * Checks how many snapshots `prune` keeps.
 * @throws InvalidOptionsError when it is not an integer >= 1.
 */
export function checkKeep(keep: number): void {
  if (!Number.isSafeInteger(keep) || keep < 1) {
    throw new InvalidOptionsError('snapshot keep', `use an integer >= 1, got ${String(keep)}`);
  }
}
