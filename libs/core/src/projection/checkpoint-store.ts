import type { RecordedEvent } from '../events/event';
import { CheckpointMovedError } from '../errors';
import type { Position } from '../store/event-store';

/**
 * Durable progress of projections. `commit` runs the read-model change and saves the checkpoint;
 * a store whose `transactional` is true does both in one database transaction (exactly-once),
 * otherwise the change is made first and the checkpoint after (at-least-once).
 */
export interface CheckpointStore<Tx = unknown> {
  /** True when `commit` makes the work and the checkpoint atomic. */
  readonly transactional: boolean;
  /** The saved position of a projection; `undefined` means "from the beginning". */
  load(projection: string): Promise<Position | undefined>;
  /**
   * Runs `work` with a transaction handle, then moves the checkpoint from `from` to `to`, atomically
   * when transactional. Fenced: when the stored checkpoint is no longer `from` (another instance
   * moved it), nothing is committed.
   * @throws CheckpointMovedError
   */
  commit<T>(
    projection: string,
    from: Position | undefined,
    to: Position,
    work: (tx: Tx) => Promise<T>,
  ): Promise<T>;
  /** Forgets the checkpoint (for a rebuild); `work` resets the read model in the same transaction. */
  reset(projection: string, work: (tx: Tx) => Promise<void>): Promise<void>;
  /**
   * Runs `work` in one transaction of this store without moving any checkpoint: a projection's
   * `setup` step (creating its tables) gets the same `tx` its handler gets.
   */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Records an event the projection gave up on and moves the checkpoint from `from` past it (fenced). */
  deadLetter(
    projection: string,
    from: Position | undefined,
    to: Position,
    event: RecordedEvent,
    error: unknown,
  ): Promise<void>;
  /** The dead-letter records of a projection, oldest first. */
  deadLetters(projection: string): Promise<readonly DeadLetter[]>;
}

/** An event a projection could not handle within its error policy. */
export interface DeadLetter {
  readonly projection: string;
  readonly eventId: string;
  readonly streamId: string;
  readonly eventType: string;
  readonly globalPosition: number;
  readonly error: string;
  readonly recordedAt: string;
}

/** Checkpoints in process memory: for tests and the in-memory store. Not transactional. */
export class InMemoryCheckpointStore implements CheckpointStore<undefined> {
  readonly transactional = false;
  private readonly positions = new Map<string, Position>();
  private readonly letters: DeadLetter[] = [];

  /** @param start checkpoints to begin with, by projection (e.g. a subscription that starts live). */
  constructor(start: Readonly<Record<string, Position>> = {}) {
    for (const [projection, position] of Object.entries(start))
      this.positions.set(projection, position);
  }

  async load(projection: string): Promise<Position | undefined> {
    return this.positions.get(projection);
  }

  async commit<T>(
    projection: string,
    from: Position | undefined,
    to: Position,
    work: (tx: undefined) => Promise<T>,
  ): Promise<T> {
    this.fence(projection, from);
    const result = await work(undefined);
    this.fence(projection, from);
    this.positions.set(projection, to);
    return result;
  }

  async reset(projection: string, work: (tx: undefined) => Promise<void>): Promise<void> {
    await work(undefined);
    this.positions.delete(projection);
  }

  transaction<T>(work: (tx: undefined) => Promise<T>): Promise<T> {
    return work(undefined);
  }

  async deadLetter(
    projection: string,
    from: Position | undefined,
    to: Position,
    event: RecordedEvent,
    error: unknown,
  ): Promise<void> {
    this.fence(projection, from);
    this.letters.push(toDeadLetter(projection, event, error));
    this.positions.set(projection, to);
  }

  async deadLetters(projection: string): Promise<readonly DeadLetter[]> {
    return this.letters.filter((letter) => letter.projection === projection);
  }

  /**
   * Deletes a projection's dead-letter record of `eventId` (after a retry re-handled the event, or
   * to skip it); false when there was none. See `InMemoryStoreInspection.removeDeadLetter`.
   */
  removeDeadLetter(projection: string, eventId: string): boolean {
    const at = this.letters.findIndex((l) => l.projection === projection && l.eventId === eventId);
    if (at < 0) return false;
    this.letters.splice(at, 1);
    return true;
  }

  private fence(projection: string, from: Position | undefined): void {
    if (this.positions.get(projection) !== from) throw new CheckpointMovedError(projection);
  }
}

/** Builds a dead-letter record; the error message only, never the event data (it may be personal). */
export function toDeadLetter(projection: string, event: RecordedEvent, error: unknown): DeadLetter {
  return {
    projection,
    eventId: event.id,
    streamId: event.streamId,
    eventType: event.type,
    globalPosition: event.globalPosition,
    error: error instanceof Error ? error.message : String(error),
    recordedAt: new Date().toISOString(),
  };
}

/**
 * Runs each batch's work outside the checkpoint store's transaction, then moves the checkpoint
 * (still fenced) in a short transaction of its own: at-least-once. For handlers whose effects live
 * elsewhere and are idempotent — process managers, whose commands run in their own transactions
 * with idempotency keys. Holding a checkpoint transaction open around those commands would delay
 * every reader of the log, and on a single-connection database (PGlite) would wait for itself.
 */
export function atLeastOnce<Tx>(inner: CheckpointStore<Tx>): CheckpointStore<undefined> {
  return {
    transactional: false,
    load: (projection) => inner.load(projection),
    async commit(projection, from, to, work) {
      const result = await work(undefined);
      await inner.commit(projection, from, to, async () => undefined);
      return result;
    },
    async reset(projection, work) {
      await work(undefined);
      await inner.reset(projection, async () => undefined);
    },
    transaction: (work) => work(undefined),
    deadLetter: (projection, from, to, event, error) =>
      inner.deadLetter(projection, from, to, event, error),
    deadLetters: (projection) => inner.deadLetters(projection),
  };
}
