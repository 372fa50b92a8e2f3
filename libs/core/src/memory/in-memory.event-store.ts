import type { EventMetadata, EventToAppend, RecordedEvent } from '../events/event';
import {
  AppendConditionFailedError,
  ConcurrencyConflictError,
  InvalidAppendError,
  InvalidOptionsError,
  ArchiveRefusedError,
  InvalidPositionError,
  StoreClosedError,
  StreamArchivedError,
} from '../errors';
import { encodeJson, findConflicts, validateWrites } from '../store/append-validation';
import {
  type AppendCondition,
  type AppendOptions,
  type EventQuery,
  type EventQueryReadOptions,
  type EventQueryReadResult,
  streamOfUnstreamedEvent,
} from '../store/event-query';
import { compileQuery, validateQuery, validateReadOptions } from '../store/event-query.validation';
import type {
  AppendResult,
  EventStore,
  Position,
  ReadAllFilter,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamsResult,
  StreamWrite,
} from '../store/event-store';
import type { ArchiveStreamResult, StreamArchiving } from '../store/stream-archive';
import { streamId as checkedStreamId, type StreamId } from '../store/stream-id';
import { deepFreeze } from '../util/deep-freeze';
import { StoredIds } from './stored-ids';
import { frozenJsonCopy, NOT_PLAIN_JSON } from '../util/frozen-json';
import { isoTime } from '../util/iso-time';
import type { Clock } from '../command/clock';

const MAX_PAGE = 10_000;
const EMPTY: readonly RecordedEvent[] = Object.freeze([]);
const EMPTY_EVENTS: readonly EventToAppend[] = Object.freeze([]);
const NO_TAGS: readonly string[] = Object.freeze([]);

/** Options of {@link InMemoryEventStore}. */
export interface InMemoryEventStoreOptions {
  /** Source of `recordedAt`. @default the system clock */
  readonly clock?: Clock;
}

/**
 * An event store in process memory, for tests and prototypes. Appends are atomic (JavaScript runs
 * them to completion without interleaving); events are deep-frozen and handed out without copies.
 * Nothing survives the process.
 */
export class InMemoryEventStore implements EventStore, StreamArchiving {
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly archived = new Set<string>();
  private readonly isArchived = (event: RecordedEvent): boolean =>
    this.archived.has(event.streamId);
  private readonly log: RecordedEvent[] = [];
  private readonly eventIds = new StoredIds(this.log);
  private readonly listeners = new Set<() => void>();
  /** Undefined for the system clock, read through {@link isoTime}. */
  private readonly clock: Clock | undefined;
  private closed = false;

  constructor(options: InMemoryEventStoreOptions = {}) {
    this.clock = options.clock;
  }

  async readStreams(streamIds: readonly StreamId[]): Promise<ReadStreamsResult> {
    this.assertOpen();
    const versions = new Map<StreamId, number>();
    const parts: RecordedEvent[][] = [];
    for (const id of streamIds) {
      if (versions.has(id)) continue;
      const events = this.streams.get(id);
      versions.set(id, events?.length ?? 0);
      if (events !== undefined) parts.push(events);
    }
    return { events: mergeByPosition(parts), versions, position: this.positionOf(this.log.length) };
  }

  async append(writes: readonly StreamWrite[], options?: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    validateWrites(writes, options);
    const unstreamed = options?.events ?? EMPTY_EVENTS;
    // Copy everything before checking versions so a bad event never half-writes (and so the
    // stored data is our own frozen copy, not the caller's object).
    const copies = ownCopies(writes, unstreamed);
    for (const write of writes) this.refuseStoredIds(write.events);
    this.refuseStoredIds(unstreamed);
    const archived = writes.filter((w) => w.events.length > 0 && this.archived.has(w.streamId));
    if (archived.length > 0) throw new StreamArchivedError(archived.map((w) => w.streamId));
    const conflicts = findConflicts(writes, (id) => this.streams.get(id)?.length ?? 0);
    if (conflicts.length > 0) throw new ConcurrencyConflictError(conflicts);
    const condition = options?.condition;
    if (condition !== undefined && this.matchesAfter(condition)) {
      throw new AppendConditionFailedError(condition.failIfEventsMatch, condition.after);
    }

    const recordedAt =
      this.clock === undefined ? isoTime(Date.now()) : this.clock.now().toISOString();
    const written: RecordedEvent[] = [];
    const versions = new Map<StreamId, number>();
    let copied = 0;
    const record = (stream: RecordedEvent[], streamId: StreamId, event: EventToAppend): void => {
      const recorded: { -readonly [K in keyof RecordedEvent]: RecordedEvent[K] } = {
        id: event.id,
        streamId,
        streamVersion: stream.length + 1,
        globalPosition: this.log.length + 1,
        tags: ownTags(event.tags),
        type: event.type,
        data: copies.data[copied], // data and metadata are frozen already
        schemaVersion: event.schemaVersion ?? 1,
        metadata: copies.metadata[copied++]!,
        occurredAt: event.occurredAt,
        recordedAt,
      };
      // Added, not spread into the literal: a spread makes every event take V8's slow copy path.
      if (event.encoding !== undefined && event.encoding !== 'json') {
        recorded.encoding = event.encoding;
      }
      Object.freeze(recorded);
      stream.push(recorded);
      this.eventIds.add(recorded.id);
      this.log.push(recorded);
      written.push(recorded);
    };
    for (const write of writes) {
      let stream = this.streams.get(write.streamId);
      if (stream === undefined && write.events.length > 0) {
        stream = [];
        this.streams.set(write.streamId, stream);
      }
      for (const event of write.events) record(stream!, write.streamId, event);
      versions.set(write.streamId, stream?.length ?? 0);
    }
    for (const event of unstreamed) {
      // A stream of its own, so that readStreams and stream prefixes see it as readAll does.
      const id = streamOfUnstreamedEvent(event.id) as StreamId;
      const stream: RecordedEvent[] = [];
      this.streams.set(id, stream);
      record(stream, id, event);
    }
    if (written.length > 0) this.notify();
    return { events: written, versions, position: this.positionOf(this.log.length) };
  }

  async read(query: EventQuery, options?: EventQueryReadOptions): Promise<EventQueryReadResult> {
    this.assertOpen();
    validateQuery(query);
    validateReadOptions(options);
    const matches = compileQuery(query);
    const limit = options?.limit ?? Number.POSITIVE_INFINITY;
    const events: RecordedEvent[] = [];
    // Every append runs to completion at once, so the whole log is the gap-safe prefix, and the
    // global position of the event at index i is i + 1.
    if (options?.backwards === true) {
      const start = Math.min(options.from ?? this.log.length, this.log.length) - 1;
      for (let i = start; i >= 0 && events.length < limit; i--) {
        if (matches(this.log[i]!)) events.push(this.log[i]!);
      }
    } else {
      const start = Math.max((options?.from ?? 1) - 1, 0);
      for (let i = start; i < this.log.length && events.length < limit; i++) {
        if (matches(this.log[i]!)) events.push(this.log[i]!);
      }
    }
    return { events, position: this.positionOf(this.log.length) };
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    this.assertOpen();
    const limit = options.limit;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new InvalidOptionsError(
        'readAll limit',
        `use an integer from 1 to ${MAX_PAGE}, not ${String(limit)}`,
      );
    }
    const matches = compileFilter(options.filter, this.isArchived);
    const events: RecordedEvent[] = [];
    let index = options.after === undefined ? 0 : this.decode(options.after);
    while (index < this.log.length && events.length < limit) {
      const event = this.log[index++]!;
      if (matches(event)) events.push(event);
    }
    return { events, next: this.positionOf(index), isEnd: index >= this.log.length };
  }

  async countAfter(after: Position | undefined, filter?: ReadAllFilter): Promise<number> {
    this.assertOpen();
    const matches = compileFilter(filter, this.isArchived);
    let count = 0;
    for (let i = after === undefined ? 0 : this.decode(after); i < this.log.length; i++) {
      if (matches(this.log[i]!)) count++;
    }
    return count;
  }

  /**
   * Archives a stream (see {@link StreamArchiving}). This store keeps no projection checkpoints,
   * so it archives at once; the events stay where they are, marked archived.
   * @throws InvalidStreamIdError for an id `streamId()` refuses (e.g. an event in no stream's
   *   reserved `$event-<id>`).
   * @throws ArchiveRefusedError when the stream has no event.
   */
  async archiveStream(streamId: StreamId): Promise<ArchiveStreamResult> {
    this.assertOpen();
    checkedStreamId(streamId);
    const events = this.streams.get(streamId);
    if (events === undefined) throw new ArchiveRefusedError(streamId, 'stream-not-found');
    const alreadyArchived = this.archived.has(streamId);
    this.archived.add(streamId);
    return { streamId, archivedEvents: alreadyArchived ? 0 : events.length, alreadyArchived };
  }

  comparePositions(a: Position, b: Position): number {
    return this.decode(a) - this.decode(b);
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  /**
   * Calls `listener` after every append that wrote events; returns a function that unsubscribes.
   * In-process subscribers use it as a wake-up signal.
   */
  onAppended(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own business; the append has already succeeded.
      }
    }
  }

  /** @throws InvalidAppendError when an event's id is already stored */
  private refuseStoredIds(events: readonly EventToAppend[]): void {
    for (const event of events) {
      if (this.eventIds.has(event.id)) {
        throw new InvalidAppendError(
          `event id ${event.id} is already stored; every event needs its own id`,
        );
      }
    }
  }

  /** True when an event matching the condition's query sits after its `after`. */
  private matchesAfter(condition: AppendCondition): boolean {
    const matches = compileQuery(condition.failIfEventsMatch);
    // Position p is at index p - 1: the events after `after` start at index `after`.
    for (let i = condition.after ?? 0; i < this.log.length; i++) {
      if (matches(this.log[i]!)) return true;
    }
    return false;
  }

  private positionOf(globalPosition: number): Position {
    return String(globalPosition) as Position;
  }

  private decode(position: Position): number {
    // A position past the head cannot come from this store (e.g. a checkpoint of another store):
    // accepting it would silently skip every event up to it.
    if (
      typeof position !== 'string' ||
      !/^(0|[1-9]\d{0,15})$/.test(position) ||
      Number(position) > this.log.length
    ) {
      throw new InvalidPositionError(position);
    }
    return Number(position);
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

/**
 * Frozen copies of the data and metadata of every event (the stream writes', then the events in no
 * stream), in request order, sharing nothing mutable with the caller. Consecutive events given the
 * same metadata object (as the executor gives them) share one copy.
 * @throws EventSerializationError
 */
function ownCopies(
  writes: readonly StreamWrite[],
  unstreamed: readonly EventToAppend[],
): { data: unknown[]; metadata: EventMetadata[] } {
  const copies = { data: [] as unknown[], metadata: [] as EventMetadata[] };
  let given: EventMetadata | undefined;
  let metadata: EventMetadata | undefined;
  const copy = (streamId: string, event: EventToAppend): void => {
    copies.data.push(ownCopy(streamId, event.type, event.data));
    if (event.metadata !== given) {
      given = event.metadata;
      if (metadata === undefined || !sameMetadata(given, metadata)) {
        metadata = Object.freeze({
          correlationId: given.correlationId,
          causationId: given.causationId,
          userId: given.userId ?? null,
          custom: ownCopy(streamId, event.type, given.custom ?? {}) as EventMetadata['custom'],
        });
      }
    }
    copies.metadata.push(metadata!);
  };
  for (const write of writes) {
    for (const event of write.events) copy(write.streamId, event);
  }
  for (const event of unstreamed) copy(streamOfUnstreamedEvent(event.id), event);
  return copies;
}

/**
 * Whether `given` equals the frozen copy `copy` with no custom metadata: events of one import or
 * command often carry equal metadata in objects of their own, and then share one copy.
 */
function sameMetadata(given: EventMetadata, copy: EventMetadata): boolean {
  return (
    given.correlationId === copy.correlationId &&
    given.causationId === copy.causationId &&
    (given.userId ?? null) === copy.userId &&
    isEmptyPlainObject(given.custom ?? EMPTY_CUSTOM) &&
    isEmptyPlainObject(copy.custom)
  );
}

const EMPTY_CUSTOM: EventMetadata['custom'] = Object.freeze({});

function isEmptyPlainObject(value: object): boolean {
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) if (Object.hasOwn(value, key)) return false;
  return true;
}

/** A frozen copy of the tags, in the order given; one shared empty list when there are none. */
function ownTags(tags: readonly string[] | undefined): readonly string[] {
  return tags === undefined || tags.length === 0 ? NO_TAGS : Object.freeze([...tags]);
}

/**
 * A frozen copy of a JSON value, as the JSON round trip PostgreSQL's adapter makes would give it.
 * @throws EventSerializationError for what JSON cannot represent (BigInt, cycles).
 */
function ownCopy(streamId: string, type: string, value: unknown): unknown {
  const copy = frozenJsonCopy(value);
  if (copy !== NOT_PLAIN_JSON) return copy;
  return deepFreeze(JSON.parse(encodeJson(streamId, type, value)) as unknown);
}

function mergeByPosition(parts: readonly RecordedEvent[][]): readonly RecordedEvent[] {
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0]!.slice();
  return mergeRange(parts, 0, parts.length);
}

/**
 * Merges `parts[from, to)`, each sorted by global position, in O(n log k): concatenating and
 * sorting cost more than folding the events did, for a command reading two long streams.
 */
function mergeRange(
  parts: readonly RecordedEvent[][],
  from: number,
  to: number,
): readonly RecordedEvent[] {
  if (to - from === 1) return parts[from]!;
  const middle = (from + to) >>> 1;
  return mergeTwo(mergeRange(parts, from, middle), mergeRange(parts, middle, to));
}

function mergeTwo(a: readonly RecordedEvent[], b: readonly RecordedEvent[]): RecordedEvent[] {
  const merged: RecordedEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    merged.push(a[i]!.globalPosition < b[j]!.globalPosition ? a[i++]! : b[j++]!);
  }
  while (i < a.length) merged.push(a[i++]!);
  while (j < b.length) merged.push(b[j++]!);
  return merged;
}

/** Builds a predicate for a readAll filter (shared by adapters that filter in process). */
export function compileFilter(
  filter: ReadAllFilter | undefined,
  isArchived: (event: RecordedEvent) => boolean = () => false,
): (event: RecordedEvent) => boolean {
  const prefixes = filter?.streamPrefixes ?? [];
  const types = filter?.eventTypes ?? [];
  const typeSet = new Set(types);
  const skipArchived = filter?.includeArchived === false;
  return (event) =>
    (prefixes.length === 0 || prefixes.some((p) => event.streamId.startsWith(p))) &&
    (typeSet.size === 0 || typeSet.has(event.type)) &&
    !(skipArchived && isArchived(event));
}
