/**
 * Remembers which events a consumer has processed, for idempotency by event id: JetStream
 * redelivers a message whose acknowledgement it did not get, and the forwarder may publish an event
 * again past the stream's duplicate window.
 *
 * A store that keeps the record in the database the handler writes to, in the handler's
 * transaction, makes "processed" and "recorded" one fact; see docs/scaling.md for a PostgreSQL one.
 */
export interface ProcessedEventStore<Tx = undefined> {
  /**
   * Runs `work` unless `eventId` is recorded as processed by `consumer`, and records it once
   * `work` succeeded. Resolves true when `work` ran, false for a duplicate. A failing `work`
   * records nothing and rejects with its error. `tx` is the store's transaction, for the handler
   * to write through so that its writes and the record commit together.
   */
  processOnce(consumer: string, eventId: string, work: (tx: Tx) => Promise<void>): Promise<boolean>;
}

/**
 * Processed event ids in this process's memory, for one process only: a second instance of the
 * consumer, or a restart, does not see them. Holds every id it is given (no expiry).
 */
export class InMemoryProcessedEvents implements ProcessedEventStore {
  private readonly processed = new Map<string, Set<string>>();
  /** Ids whose `work` is running: a concurrent duplicate waits for it rather than running twice. */
  private readonly running = new Map<string, Promise<boolean>>();

  async processOnce(
    consumer: string,
    eventId: string,
    work: (tx: undefined) => Promise<void>,
  ): Promise<boolean> {
    const key = `${consumer}\u0000${eventId}`;
    const pending = this.running.get(key);
    if (pending !== undefined) {
      await pending.catch(() => undefined);
      return this.processOnce(consumer, eventId, work);
    }
    if (this.processed.get(consumer)?.has(eventId)) return false;
    const run = work(undefined).then(() => {
      let ids = this.processed.get(consumer);
      if (ids === undefined) this.processed.set(consumer, (ids = new Set()));
      ids.add(eventId);
      return true;
    });
    this.running.set(key, run);
    try {
      return await run;
    } finally {
      this.running.delete(key);
    }
  }
}
