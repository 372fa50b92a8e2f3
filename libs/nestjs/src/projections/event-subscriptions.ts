import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import {
  type EventStore,
  type EventTypeRegistry,
  InMemoryCheckpointStore,
  InMemoryProjectionLock,
  type Position,
  type ProjectionErrorPolicy,
  type ProjectionStatus,
  ProjectionWorker,
  type ReadAllFilter,
  type RecordedEvent,
} from '@eventcore/core';
import { EVENTCORE_EVENT_TYPES } from '../eventcore.constants';
import { InjectEventStore } from '../inject-event-store.decorator';

/** Options of {@link EventSubscriptions.subscribe}. */
export interface SubscribeOptions {
  /** Shown in logs and status. @default 'subscription-<n>' */
  readonly name?: string;
  /** Where to start: the whole log, only what is appended from now on, or after a position. */
  readonly from: 'beginning' | 'live' | Position;
  /** Which events to receive. @default every event */
  readonly filter?: ReadAllFilter;
  /** Most events handed over per batch. @default 100 */
  readonly batchSize?: number;
  /**
   * What to do when `onEvent` throws, or an event cannot be upcast (`EventDecodeError`).
   * @default 3 retries from 100 ms, then 'fault'
   */
  readonly errorPolicy?: ProjectionErrorPolicy;
  /** Called with each event, one at a time, in log order, upcast to its type's current version. */
  onEvent(event: RecordedEvent): Promise<void> | void;
  /** Called each time the subscription has caught up with the log. */
  onCaughtUp?(): Promise<void> | void;
}

/** A running subscription. */
export interface Subscription {
  /** Stops after the event in flight; resolves when it has stopped. */
  stop(): Promise<void>;
  status(): ProjectionStatus;
}

/** Matches no event: `readAll` then pages straight to the head without returning events. */
const NOTHING: ReadAllFilter = { eventTypes: ['\u0000eventcore:no-such-type'] };
const HEAD_PAGE = 10_000;

/**
 * Subscriptions to the log for code that is not a projection (notifications, outboxes,
 * integrations). Same batching, backpressure and position tokens as projections, but the position
 * lives in memory only: after a restart, subscribe again `from` a position you saved yourself.
 * Every subscription runs on every instance (no lease), and is stopped on application shutdown.
 *
 * Events arrive in their current shape, upcast through the module's event types as projections get
 * them. An event that cannot be upcast never reaches `onEvent` raw: its `EventDecodeError` (naming
 * the event, stream, type and stored version) goes through the error policy like a failing
 * `onEvent` — retries, then `faulted` or a dead letter (kept in memory with the position).
 */
@Injectable()
export class EventSubscriptions implements BeforeApplicationShutdown {
  private readonly logger = new Logger('EventCore');
  private readonly active = new Set<ProjectionWorker>();
  private count = 0;

  constructor(
    @InjectEventStore() private readonly store: EventStore,
    @Inject(EVENTCORE_EVENT_TYPES) private readonly events: EventTypeRegistry,
  ) {}

  /**
   * Starts a subscription and returns once it runs (for `'live'`, once the head is known, so every
   * event appended after this returns is delivered).
   * @throws InvalidProjectionError for an invalid name or batch size.
   * @throws InvalidPositionError for a position that is not this store's.
   */
  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const name = options.name ?? `subscription-${++this.count}`;
    const start = await this.startPosition(options.from);
    const worker = new ProjectionWorker(
      {
        name,
        filter: options.filter,
        batchSize: options.batchSize,
        errorPolicy: options.errorPolicy,
      },
      {
        handle: (event) => options.onEvent(event),
        onLive: options.onCaughtUp && (() => options.onCaughtUp?.()),
      },
      {
        store: this.store,
        events: this.events, // the worker upcasts each batch before onEvent, as for projections
        checkpoints: new InMemoryCheckpointStore(start === undefined ? {} : { [name]: start }),
        lock: new InMemoryProjectionLock(),
        onError: (failed, error) => this.logFailure(failed, error),
      },
    );
    this.active.add(worker);
    worker.start();
    return {
      stop: async () => {
        this.active.delete(worker);
        await worker.stop();
      },
      status: () => worker.status(),
    };
  }

  async beforeApplicationShutdown(): Promise<void> {
    const workers = [...this.active];
    this.active.clear();
    await Promise.all(workers.map((worker) => worker.stop()));
  }

  private async startPosition(from: SubscribeOptions['from']): Promise<Position | undefined> {
    if (from === 'beginning') return undefined;
    if (from !== 'live') {
      this.store.comparePositions(from, from); // rejects a foreign token now, not in the worker
      return from;
    }
    let page = await this.store.readAll({ limit: HEAD_PAGE, filter: NOTHING });
    while (!page.isEnd) {
      page = await this.store.readAll({ after: page.next, limit: HEAD_PAGE, filter: NOTHING });
    }
    return page.next;
  }

  private logFailure(name: string, error: unknown): void {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.logger.error(`Subscription ${name} failed: ${message}`);
  }
}
