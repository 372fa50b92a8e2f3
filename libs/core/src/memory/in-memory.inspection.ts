import { InvalidOptionsError } from '../errors';
import type { RecordedEvent } from '../events/event';
import type { InMemoryCheckpointStore } from '../projection/checkpoint-store';
import type { EventStore, Position } from '../store/event-store';
import type {
  EventStoreInspection,
  FindStreamsOptions,
  LogHead,
  OldestWriteTransaction,
  StreamSummary,
} from '../store/store-inspection';
import type { StreamId } from '../store/stream-id';

const PAGE = 10_000;
const MAX_LIMIT = 1_000;

/**
 * {@link EventStoreInspection} of an in-memory store. It reads the log through the `EventStore`
 * port (each call first reads what was appended since the last one) and indexes it in process
 * memory, without copies: meant for the in-memory store and small logs, not a large database.
 * Dead letters are removed from `checkpoints` when given.
 */
export class InMemoryStoreInspection implements EventStoreInspection<undefined> {
  private readonly versions = new Map<StreamId, number>();
  private readonly byId = new Map<string, RecordedEvent>();
  private readonly byCorrelation = new Map<string, RecordedEvent[]>();
  private last: RecordedEvent | undefined;
  private next: Position | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly checkpoints?: InMemoryCheckpointStore,
  ) {}

  async findStreams(
    prefix: string,
    options: FindStreamsOptions = {},
  ): Promise<readonly StreamSummary[]> {
    const limit = limitOf(options.limit, 50);
    await this.catchUp();
    const after = options.after;
    return [...this.versions.keys()]
      .filter((id) => id.startsWith(prefix) && (after === undefined || id > after))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit)
      .map((streamId) => ({ streamId, version: this.versions.get(streamId)! }));
  }

  async findEvent(eventId: string): Promise<RecordedEvent | undefined> {
    await this.catchUp();
    return this.byId.get(eventId);
  }

  async eventsByCorrelationId(
    correlationId: string,
    options: { readonly limit?: number } = {},
  ): Promise<readonly RecordedEvent[]> {
    const limit = limitOf(options.limit, MAX_LIMIT);
    await this.catchUp();
    return (this.byCorrelation.get(correlationId) ?? []).slice(0, limit);
  }

  async head(): Promise<LogHead> {
    await this.catchUp();
    return {
      globalPosition: this.last?.globalPosition ?? 0,
      recordedAt: this.last?.recordedAt ?? null,
    };
  }

  /** None ever: an in-memory append runs to completion in one turn, with no transaction to hold open. */
  async oldestWriteTransaction(): Promise<OldestWriteTransaction> {
    return { known: true, transaction: null };
  }

  async removeDeadLetter(projection: string, eventId: string): Promise<boolean> {
    return this.checkpoints?.removeDeadLetter(projection, eventId) ?? false;
  }

  /**
   * Indexes what was appended since the last call. Reads run one after another: a caller never
   * joins a read that began before its call (and may have missed what it just appended).
   */
  private catchUp(): Promise<void> {
    const read = (this.reading ?? Promise.resolve()).then(() => this.readNew());
    // A failed read leaves the cursor where it was; the next call tries again.
    this.reading = read.catch(() => undefined);
    return read;
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const page = await this.store.readAll({ after: this.next, limit: PAGE });
      for (const event of page.events) this.index(event);
      this.next = page.next;
      if (page.isEnd) return;
    }
  }

  private index(event: RecordedEvent): void {
    this.versions.set(event.streamId, event.streamVersion);
    this.byId.set(event.id, event);
    const correlated = this.byCorrelation.get(event.metadata.correlationId);
    if (correlated === undefined) this.byCorrelation.set(event.metadata.correlationId, [event]);
    else correlated.push(event);
    this.last = event;
  }
}

function limitOf(limit: number | undefined, fallback: number): number {
  const value = limit ?? fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw new InvalidOptionsError('inspection limit', `use an integer from 1 to ${MAX_LIMIT}`);
  }
  return value;
}
