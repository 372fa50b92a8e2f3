interface Watch {
  /** `performance.now()` at which the watch expires. */
  readonly at: number;
  readonly expire: () => void;
}

/**
 * Races promises against deadlines with one timer for all of them. A timer per store call, set and
 * cleared around every command, cost about as much as an in-memory append; here a call costs a set
 * insertion and deletion, and the timer is only re-armed for a deadline earlier than the armed one.
 * The timer is unref'd: like the calls it watches, it does not keep the process alive.
 */
export class Deadlines {
  private readonly pending = new Set<Watch>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedAt = Number.POSITIVE_INFINITY;

  /**
   * Settles as `call` does, or rejects with `expired()` if `ms` milliseconds pass first. A rejection
   * of `call` after that is observed, so it never goes unhandled.
   */
  race<T>(call: Promise<T>, ms: number, expired: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const watch: Watch = {
        at: performance.now() + Math.max(0, ms),
        expire: () => reject(expired()),
      };
      this.pending.add(watch);
      if (watch.at < this.armedAt) this.arm(watch.at);
      call.then(
        (value) => {
          this.pending.delete(watch);
          resolve(value);
        },
        (error: unknown) => {
          this.pending.delete(watch);
          reject(error);
        },
      );
    });
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - performance.now()));
    this.timer.unref?.();
  }

  /** Expires every watch that is due and re-arms for the earliest one left. */
  private expire(): void {
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const watch of this.pending) {
      if (watch.at <= now) {
        this.pending.delete(watch);
        watch.expire();
      } else if (watch.at < next) {
        next = watch.at;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  }
}
