import type { EventMetadata, RecordedEvent } from '../events/event';
import {
  ConcurrencyConflictError,
  InvalidAppendError,
  InvalidOptionsError,
  InvalidPositionError,
  StoreClosedError,
} from '../errors';
import { encodeJson, findConflicts, validateWrites } from '../store/append-validation';
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
import type { StreamId } from '../store/stream-id';
import { deepFreeze } from '../util/deep-freeze';
import { StoredIds } from './stored-ids';
import { frozenJsonCopy, NOT_PLAIN_JSON } from '../util/frozen-json';
import { isoTime } from '../util/iso-time';
import type { Clock } from '../command/clock';

const MAX_PAGE = 10_000;
const EMPTY: readonly RecordedEvent[] = Object.freeze([]);

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
export class InMemoryEventStore implements EventStore {
  private readonly streams = new Map<string, RecordedEvent[]>();
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

  async append(writes: readonly StreamWrite[]): Promise<AppendResult> {
    this.assertOpen();
    validateWrites(writes);
    // Copy everything before checking versions so a bad event never half-writes (and so the
    // stored data is our own frozen copy, not the caller's object).
    const copies = ownCopies(writes);
    for (const write of writes) {
      for (const event of write.events) {
        if (this.eventIds.has(event.id)) {
          throw new InvalidAppendError(
            `event id ${event.id} is already stored; every event needs its own id`,
          );
        }
      }
    }
    const conflicts = findConflicts(writes, (id) => this.streams.get(id)?.length ?? 0);
    if (conflicts.length > 0) throw new ConcurrencyConflictError(conflicts);

    const recordedAt =
      this.clock === undefined ? isoTime(Date.now()) : this.clock.now().toISOString();
    const written: RecordedEvent[] = [];
    const versions = new Map<StreamId, number>();
    let copied = 0;
    for (let w = 0; w < writes.length; w++) {
      const write = writes[w]!;
      let stream = this.streams.get(write.streamId);
      if (stream === undefined && write.events.length > 0) {
        stream = [];
        this.streams.set(write.streamId, stream);
      }
      for (let e = 0; e < write.events.length; e++) {
        const event = write.events[e]!;
        const data = copies.data[copied];
        const metadata = copies.metadata[copied++]!;
        const recorded = Object.freeze({
          id: event.id,
          streamId: write.streamId,
          streamVersion: stream!.length + 1,
          globalPosition: this.log.length + 1,
          type: event.type,
          data, // data and metadata are frozen already
          schemaVersion: event.schemaVersion ?? 1,
          ...(event.encoding !== undefined && event.encoding !== 'json'
            ? { encoding: event.encoding }
            : undefined),
          metadata,
          occurredAt: event.occurredAt,
          recordedAt,
        }) as RecordedEvent;
        stream!.push(recorded);
        this.eventIds.add(recorded.id);
        this.log.push(recorded);
        written.push(recorded);
      }
      versions.set(write.streamId, stream?.length ?? 0);
    }
    if (written.length > 0) this.notify();
    return { events: written, versions, position: this.positionOf(this.log.length) };
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
    const matches = compileFilter(options.filter);
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
    const matches = compileFilter(filter);
    let count = 0;
    for (let i = after === undefined ? 0 : this.decode(after); i < this.log.length; i++) {
      if (matches(this.log[i]!)) count++;
    }
    return count;
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
 * Frozen copies of the data and metadata of every event, in request order, sharing nothing mutable
 * with the caller. Consecutive events given the same metadata object (as the executor gives them)
 * share one copy.
 * @throws EventSerializationError
 */
function ownCopies(writes: readonly StreamWrite[]): { data: unknown[]; metadata: EventMetadata[] } {
  const copies = { data: [] as unknown[], metadata: [] as EventMetadata[] };
  let given: EventMetadata | undefined;
  let metadata: EventMetadata | undefined;
  for (const write of writes) {
    for (const event of write.events) {
      copies.data.push(ownCopy(write.streamId, event.type, event.data));
      if (event.metadata !== given) {
        given = event.metadata;
        metadata = Object.freeze({
          correlationId: given.correlationId,
          causationId: given.causationId,
          userId: given.userId ?? null,
          custom: ownCopy(
            write.streamId,
            event.type,
            given.custom ?? {},
          ) as EventMetadata['custom'],
        });
      }
      copies.metadata.push(metadata!);
    }
  }
  return copies;
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
): (event: RecordedEvent) => boolean {
  const prefixes = filter?.streamPrefixes ?? [];
  const types = filter?.eventTypes ?? [];
  const typeSet = new Set(types);
  return (event) =>
    (prefixes.length === 0 || prefixes.some((p) => event.streamId.startsWith(p))) &&
    (typeSet.size === 0 || typeSet.has(event.type));
}
