import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import {
  atLeastOnce,
  type CheckpointStore,
  type DeadLetter,
  type EventStore,
  type EventStoreInspection,
  type EventTypeRegistry,
  type LogHead,
  type OldestWriteTransaction,
  type ProjectionStatus,
  type RecordedEvent,
  type StreamId,
  type StreamSummary,
  streamId,
} from '@eventcore/core';
import { EVENTCORE_CHECKPOINT_STORE, EVENTCORE_EVENT_TYPES } from '../eventcore.constants';
import { InjectEventStore } from '../inject-event-store.decorator';
import { ProcessManagerHost } from '../projections/process-manager.host';
import { ProjectionMetadataAccessor } from '../projections/projection-metadata.accessor';
import { ProjectionExplorer } from '../projections/projection.explorer';
import type { ProjectionHost } from '../projections/projection.host';
import { ProjectionRegistry } from '../projections/projection.registry';
import { CONSOLE_INSPECTION } from './console.constants';
import { causationTree, type TraceRoot } from './trace-tree';

/** The store's answer to a ping, with what it reports about itself. */
export type StoreHealth =
  | {
      readonly up: true;
      readonly latencyMs: number;
      readonly details: Readonly<Record<string, unknown>>;
    }
  | { readonly up: false; readonly error: string };

/** Everything the overview shows. */
export interface Overview {
  readonly store: StoreHealth;
  /** Undefined without an inspection or when the store is down. */
  readonly head: LogHead | undefined;
  /** Events per second over the last sampling window; null until two samples exist. */
  readonly eventsPerSecond: number | null;
  readonly holdBack: OldestWriteTransaction;
  readonly projections: readonly ProjectionStatus[];
}

/** A projection with its dead letters (from the checkpoint store: durable, across instances). */
export interface ProjectionDetail {
  readonly status: ProjectionStatus;
  readonly deadLetters: readonly DeadLetter[];
}

/** One page of a stream's events. */
export interface StreamPage {
  readonly streamId: string;
  readonly version: number;
  /** Version of the first event shown (1-based). */
  readonly from: number;
  readonly events: readonly RecordedEvent[];
}

/** Events of a stream page. */
export const STREAM_PAGE_SIZE = 100;
/** Streams of a search page. */
export const SEARCH_PAGE_SIZE = 50;
/** Most events of one trace. */
export const TRACE_LIMIT = 1_000;
/** How long the events-per-second window reaches back. */
const RATE_WINDOW_MS = 60_000;
/** Least time between two samples of the log head. */
const SAMPLE_EVERY_MS = 1_000;

interface StoreWithHealth {
  health(): Promise<Record<string, unknown>>;
}

/**
 * What the console's pages show and the actions they take, on the module's own store, checkpoint
 * store and projection registry, plus the optional {@link EventStoreInspection}.
 */
@Injectable()
export class ConsoleService {
  private readonly samples: { at: number; position: number }[] = [];
  private readonly explorer: ProjectionExplorer;
  private hosts: Map<string, ProjectionHost> | undefined;

  constructor(
    @InjectEventStore() private readonly store: EventStore,
    @Inject(EVENTCORE_CHECKPOINT_STORE) private readonly checkpoints: CheckpointStore,
    @Inject(EVENTCORE_EVENT_TYPES) private readonly events: EventTypeRegistry,
    private readonly registry: ProjectionRegistry,
    discovery: DiscoveryService,
    reflector: Reflector,
    @Inject(CONSOLE_INSPECTION) private readonly inspection: EventStoreInspection | null,
  ) {
    this.explorer = new ProjectionExplorer(discovery, new ProjectionMetadataAccessor(reflector));
  }

  /** Whether stream search, traces, the head and dead-letter retry/skip are available. */
  get inspects(): boolean {
    return this.inspection !== null;
  }

  async overview(): Promise<Overview> {
    const store = await this.storeHealth();
    const head = store.up ? await this.sampleHead() : undefined;
    return {
      store,
      head,
      eventsPerSecond: this.rate(),
      holdBack: await this.holdBack(),
      projections: this.registry.list(),
    };
  }

  /** Every projection's status with its number of dead letters. */
  async projections(): Promise<{ status: ProjectionStatus; deadLetters: number }[]> {
    return Promise.all(
      this.registry.list().map(async (status) => ({
        status,
        deadLetters: (await this.registry.deadLetters(status.name)).length,
      })),
    );
  }

  /** @throws ProjectionNotFoundError */
  async projection(name: string): Promise<ProjectionDetail> {
    const status = this.registry.get(name);
    return { status, deadLetters: await this.registry.deadLetters(name) };
  }

  pause(name: string): Promise<ProjectionStatus> {
    return this.registry.pause(name);
  }

  resume(name: string): Promise<ProjectionStatus> {
    return this.registry.resume(name);
  }

  rebuild(name: string): Promise<ProjectionStatus> {
    return this.registry.rebuild(name);
  }

  /** A dead letter and its event (undefined when the event is no longer in the store). */
  async deadLetter(
    name: string,
    eventId: string,
  ): Promise<{ letter: DeadLetter; event: RecordedEvent | undefined }> {
    const letter = (await this.registry.deadLetters(name)).find((l) => l.eventId === eventId);
    if (letter === undefined)
      throw notFound(`Projection ${name} has no dead letter for event ${eventId}.`);
    return { letter, event: await this.findEvent(letter) };
  }

  /**
   * Hands the dead letter's event to the projection again (upcast, as the worker does) and
   * deletes the dead letter in the same checkpoint-store transaction: with a transactional store
   * the read-model change and the removal commit together. A process manager's reaction runs
   * outside it, as in its worker (its commands are idempotent).
   * @throws ConflictException when the projection does not run on this instance or fails again
   */
  async retryDeadLetter(name: string, eventId: string): Promise<void> {
    const inspection = this.requireInspection('Retrying a dead letter');
    this.requireActive(name, 'retried');
    const { event } = await this.deadLetter(name, eventId);
    if (event === undefined) {
      throw new ConflictException({
        code: 'eventcore.console.event_missing',
        detail: `Event ${eventId} is not in the store any more: skip its dead letter instead.`,
      });
    }
    const host = this.hostOf(name);
    const checkpoints =
      host instanceof ProcessManagerHost ? atLeastOnce(this.checkpoints) : this.checkpoints;
    const current = this.events.upcast(event);
    try {
      await checkpoints.transaction(async (tx) => {
        const context = { tx };
        if (host.handleBatch !== undefined) await host.handleBatch([current], context);
        else await host.handle(current, context);
        await inspection.removeDeadLetter(name, eventId, tx);
      });
    } catch (error) {
      throw new ConflictException({
        code: 'eventcore.console.retry_failed',
        detail: `The projection failed again on event ${eventId}: ${messageOf(error)}. The dead letter is kept.`,
      });
    }
  }

  /** Deletes the dead letter: the projection never handles that event. */
  async skipDeadLetter(name: string, eventId: string): Promise<void> {
    const inspection = this.requireInspection('Skipping a dead letter');
    await this.deadLetter(name, eventId);
    await inspection.removeDeadLetter(name, eventId);
  }

  /**
   * Streams whose id starts with `prefix`. Without an inspection only an exact id is found.
   */
  async findStreams(prefix: string, after?: string): Promise<readonly StreamSummary[]> {
    if (this.inspection !== null) {
      return this.inspection.findStreams(prefix, { after, limit: SEARCH_PAGE_SIZE });
    }
    if (after !== undefined || !isStreamId(prefix)) return [];
    const id = prefix as StreamId;
    const version = (await this.store.readStreams([id])).versions.get(id) ?? 0;
    return version === 0 ? [] : [{ streamId: id, version }];
  }

  /** A page of a stream's events from version `from`. */
  async stream(id: string, from: number): Promise<StreamPage> {
    const { events, versions } = await this.store.readStreams([id as StreamId]);
    const version = versions.get(id as StreamId) ?? 0;
    const start = Math.max(1, Math.min(from, Math.max(version, 1)));
    return {
      streamId: id,
      version,
      from: start,
      events: events.filter((e) => e.streamVersion >= start).slice(0, STREAM_PAGE_SIZE),
    };
  }

  /** The causation tree of a correlation id, and whether it was cut at {@link TRACE_LIMIT}. */
  async trace(
    correlationId: string,
  ): Promise<{ roots: TraceRoot[]; events: number; cut: boolean }> {
    const inspection = this.requireInspection('Tracing a correlation id');
    const events = await inspection.eventsByCorrelationId(correlationId, { limit: TRACE_LIMIT });
    return {
      roots: causationTree(events),
      events: events.length,
      cut: events.length >= TRACE_LIMIT,
    };
  }

  private async storeHealth(): Promise<StoreHealth> {
    const started = performance.now();
    try {
      await this.store.ping();
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      const details = hasHealth(this.store) ? await this.store.health() : {};
      return { up: true, latencyMs, details };
    } catch (error) {
      return { up: false, error: messageOf(error) };
    }
  }

  /** Reads the head and keeps a sample at most once a second, for {@link rate}. */
  private async sampleHead(): Promise<LogHead | undefined> {
    if (this.inspection === null) return undefined;
    const head = await this.inspection.head();
    const now = Date.now();
    const last = this.samples[this.samples.length - 1];
    if (last === undefined || now - last.at >= SAMPLE_EVERY_MS) {
      this.samples.push({ at: now, position: head.globalPosition });
    }
    // Keep the newest sample older than the window, so the window is always spanned.
    while (this.samples.length > 2 && now - this.samples[1]!.at > RATE_WINDOW_MS)
      this.samples.shift();
    return head;
  }

  /** Positions per second between the oldest and newest sample (gaps of failed appends count). */
  private rate(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last.at === first.at) return null;
    return ((last.position - first.position) * 1000) / (last.at - first.at);
  }

  private async holdBack(): Promise<OldestWriteTransaction> {
    if (this.inspection === null) {
      return {
        known: false,
        reason: 'the console has no store inspection (see the `inspection` option)',
      };
    }
    try {
      return await this.inspection.oldestWriteTransaction();
    } catch (error) {
      return { known: false, reason: messageOf(error) };
    }
  }

  private async findEvent(letter: DeadLetter): Promise<RecordedEvent | undefined> {
    if (this.inspection !== null) return this.inspection.findEvent(letter.eventId);
    const { events } = await this.store.readStreams([letter.streamId as StreamId]);
    return events.find((event) => event.id === letter.eventId);
  }

  private requireInspection(what: string): EventStoreInspection {
    if (this.inspection !== null) return this.inspection;
    throw new ConflictException({
      code: 'eventcore.console.no_inspection',
      detail: `${what} needs a store inspection: pass \`inspection\` to EventCoreConsoleModule.forRoot.`,
    });
  }

  private requireActive(name: string, action: string): void {
    const { state } = this.registry.get(name);
    if (state === 'standby' || state === 'stopped' || state === 'starting') {
      throw new ConflictException({
        code: 'eventcore.projection_not_active',
        detail: `Projection ${name} does not run on this instance (${state}), so its dead letters cannot be ${action} here: use the console of the instance that runs it.`,
      });
    }
  }

  /** The projection's provider, found once through discovery (as the module found it at startup). */
  private hostOf(name: string): ProjectionHost {
    this.hosts ??= new Map(this.explorer.explore().map((p) => [p.definition.name, p.host]));
    const host = this.hosts.get(name);
    if (host === undefined) throw notFound(`There is no projection named ${name}.`);
    return host;
  }
}

function hasHealth(store: EventStore): store is EventStore & StoreWithHealth {
  return typeof (store as Partial<StoreWithHealth>).health === 'function';
}

function isStreamId(value: string): boolean {
  try {
    streamId(value);
    return true;
  } catch {
    return false;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function notFound(detail: string): NotFoundException {
  return new NotFoundException({ code: 'eventcore.console.not_found', detail });
}
