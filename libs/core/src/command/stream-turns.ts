/**
 * Turn-taking per stream among the commands of one process: a command waits for the earlier
 * commands of this process on any of its streams to finish before it reads. Under contention they
 * would otherwise all read the same versions, all but one would conflict, back off, read again and
 * retry; queued, each finds the state its predecessor left (in the state cache, without a read)
 * and appends once.
 *
 * Only an optimisation: correctness never rests on it (other processes write too; every append
 * still checks exact versions). A command that stops waiting (its deadline passed) lets its
 * successors go at once.
 *
 * Free of deadlocks: a command takes its place on all its streams at once, synchronously, so it
 * only ever waits for commands that took their places before it.
 */
export class StreamTurns {
  /** Per stream, the turn of the last command queued on it. */
  private readonly last = new Map<string, Turn>();

  /**
   * Queues on `streams`. The turn's `ready` resolves when every earlier command on them is done
   * (undefined: none, go at once). Call its `done()` when finished, also after a failure: it lets
   * the next ones go.
   */
  take(streams: readonly string[]): Turn {
    let earlier: Turn | Turn[] | undefined;
    const turn = new Turn(streams, this.last);
    for (const stream of streams) {
      const previous = this.last.get(stream);
      this.last.set(stream, turn);
      if (previous === undefined || previous === earlier) continue;
      if (earlier === undefined) earlier = previous;
      else if (Array.isArray(earlier)) {
        if (!earlier.includes(previous)) earlier.push(previous);
      } else earlier = [earlier, previous];
    }
    turn.ready =
      earlier === undefined
        ? undefined
        : Array.isArray(earlier)
          ? Promise.all(earlier.map((t) => t.finished())).then(() => undefined)
          : earlier.finished();
    return turn;
  }

  /** Streams with a command in progress or queued (for tests and diagnostics). */
  get size(): number {
    return this.last.size;
  }
}

/** One command's place on its streams (see {@link StreamTurns.take}). */
export class Turn {
  /** Resolves when the earlier commands on these streams are done; undefined: none. */
  ready: Promise<void> | undefined;
  private isDone = false;
  /** Commands waiting for this one; a promise is made only when one waits. */
  private waiters: (() => void)[] | undefined;

  constructor(
    /** The streams this turn holds a place on. */
    readonly streams: readonly string[],
    private readonly last: Map<string, Turn>,
  ) {}

  /** Lets the next commands go; harmless when called again. */
  done(): void {
    if (this.isDone) return;
    this.isDone = true;
    for (const stream of this.streams) if (this.last.get(stream) === this) this.last.delete(stream);
    if (this.waiters !== undefined) for (const wake of this.waiters) wake();
  }

  /** Resolves once {@link done} was called. */
  finished(): Promise<void> {
    if (this.isDone) return Promise.resolve();
    return new Promise((resolve) => (this.waiters ??= []).push(resolve));
  }
}
