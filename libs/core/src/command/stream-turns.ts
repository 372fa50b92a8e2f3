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
  private readonly last = new Map<string, Promise<void>>();

  /**
   * Queues on `streams`. `ready` resolves when every earlier command on them is done (undefined:
   * none, go at once). Call `done` when finished, also after a failure: it lets the next ones go.
   */
  take(streams: readonly string[]): { ready: Promise<void> | undefined; done: () => void } {
    let done!: () => void;
    const turn = new Promise<void>((resolve) => (done = resolve));
    const earlier: Promise<void>[] = [];
    for (const stream of streams) {
      const previous = this.last.get(stream);
      if (previous !== undefined && !earlier.includes(previous)) earlier.push(previous);
      this.last.set(stream, turn);
    }
    const finish = () => {
      done();
      for (const stream of streams) if (this.last.get(stream) === turn) this.last.delete(stream);
    };
    const ready =
      earlier.length === 0
        ? undefined
        : earlier.length === 1
          ? earlier[0]!
          : Promise.all(earlier).then(() => undefined);
    return { ready, done: finish };
  }

  /** Streams with a command in progress or queued (for tests and diagnostics). */
  get size(): number {
    return this.last.size;
  }
}
