import { InvalidOptionsError } from '../errors';
import type { SnapshotStore } from './snapshot-store';

/** Why a snapshot was not written or not used; see {@link SnapshotOptions.report}. */
export interface SnapshotProblem {
  /**
   * - `unserializable`: the state does not survive the serializer's round trip unchanged
   *   (reported once per command class; give the command `toSnapshot`/`fromSnapshot`);
   * - `undecodable`: a stored snapshot could not be decoded; the command folded the full boundary;
   * - `save-failed`: the store refused or failed to save (or prune);
   * - `dropped`: the queue of snapshots to write was full.
   */
  readonly kind: 'unserializable' | 'undecodable' | 'save-failed' | 'dropped';
  readonly commandName: string;
  /** What happened and what to do. */
  readonly message: string;
  readonly error?: unknown;
}

/** Persisted snapshots of command state (the executor's `snapshots` option). */
export interface SnapshotOptions {
  readonly store: SnapshotStore;
  /**
   * The module-wide policy: every streams command (unless it says `@Command({ snapshot: false })`)
   * is snapshotted after a cold execution folded at least this many events. Omit it to snapshot
   * only the commands that opt in with `@Command({ snapshot: { ... } })`.
   */
  readonly every?: number;
  /** Snapshots kept per command class and boundary; older ones are pruned after each save. @default 3 */
  readonly keep?: number;
  /** Most snapshots waiting to be written; beyond it new ones are dropped and reported. @default 64 */
  readonly maxPending?: number;
  /**
   * Told of every snapshot not written or not used; never throws into a command.
   * @default `process.emitWarning` (the Nest module passes its `Logger`)
   */
  readonly report?: (problem: SnapshotProblem) => void;
}

/** A command class's own snapshot policy (`@Command({ snapshot })`). */
export interface CommandSnapshotOptions {
  /** Snapshot after a cold execution folded at least this many events. @default the executor's `every`, else 500 */
  readonly every?: number;
  /** Bump it whenever `apply`, `initialState` or the state's shape changes: older snapshots are then ignored. @default 1 */
  readonly stateVersion?: number;
}

/** Default of `every` for a command that opts in without one and no module-wide policy. */
export const DEFAULT_SNAPSHOT_EVERY = 500;
/** Default of {@link SnapshotOptions.keep}. */
export const DEFAULT_SNAPSHOT_KEEP = 3;
/** Default of {@link SnapshotOptions.maxPending}. */
export const DEFAULT_SNAPSHOT_PENDING = 64;

/**
 * Checks a positive integer option of snapshots.
 * @throws InvalidOptionsError naming it.
 */
export function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
    throw new InvalidOptionsError(name, `use an integer >= 1, got ${String(value)}`);
  }
}

/**
 * Checks the executor's `snapshots` option.
 * @throws InvalidOptionsError naming the field that is wrong.
 */
export function checkSnapshotOptions(options: SnapshotOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionsError('snapshots', 'pass { store, every?, keep?, maxPending? }');
  }
  const store = options.store as Partial<SnapshotStore> | undefined;
  if (
    store === undefined ||
    store === null ||
    typeof store.load !== 'function' ||
    typeof store.save !== 'function' ||
    typeof store.prune !== 'function' ||
    typeof store.serializer?.serialize !== 'function'
  ) {
    throw new InvalidOptionsError(
      'snapshots.store',
      'pass a SnapshotStore (InMemorySnapshotStore, PostgresSnapshotStore)',
    );
  }
  checkPositive('snapshots.every', options.every);
  checkPositive('snapshots.keep', options.keep);
  checkPositive('snapshots.maxPending', options.maxPending);
  if (options.report !== undefined && typeof options.report !== 'function') {
    throw new InvalidOptionsError('snapshots.report', 'pass a function or leave it out');
  }
}
