import type { DomainEvent, EventMetadata } from '../events/event';
import {
  BusinessRuleViolationError,
  InvalidCommandError,
  UncoveredEventError,
  UndeclaredStreamError,
} from '../errors';
import type { EventQuery, QueryItem } from '../store/event-query';
import { compileQuery, validateQuery } from '../store/event-query.validation';
import { type StreamId, streamId as toStreamId } from '../store/stream-id';
import type { CommandContext } from './command-logic';

/**
 * Thrown by `ctx.discover` and `ctx.widen` to stop a decision that needs more of the log: streams,
 * query items, or both. Caught by the executor, which reads again and decides again.
 */
export class DiscoveryRequest {
  constructor(
    readonly streamIds: readonly StreamId[],
    readonly items: readonly QueryItem[] = [],
  ) {}
}

/** An event as a decision emits it, with its optional DCB tags. */
export type EmittedDomainEvent = DomainEvent & { readonly tags?: readonly string[] };

/** One emitted event, before the executor turns it into an `EventToAppend`. */
export interface EmittedEvent {
  /** The stream it goes to; undefined for an event in no stream (`ctx.append`). */
  readonly streamId: StreamId | undefined;
  readonly event: EmittedDomainEvent;
  readonly custom: Readonly<Record<string, unknown>> | undefined;
}

/** A command's boundary query with its matcher, built once per round of a decision. */
export class BoundaryQuery {
  readonly matches: (event: { readonly type: string; readonly tags: readonly string[] }) => boolean;

  constructor(readonly query: EventQuery) {
    this.matches = compileQuery(query);
  }

  /** Those of `items` the query does not hold yet (each once), in the order given. */
  newItems(items: readonly QueryItem[]): QueryItem[] {
    // `{ items: [] }` and an item with neither types nor tags match every event: nothing to add.
    const known = this.query.items;
    if (known.length === 0 || known.some(matchesEverything)) return [];
    const keys = new Set(known.map(itemKey));
    const added: QueryItem[] = [];
    for (const item of items) {
      const key = itemKey(item);
      if (keys.has(key)) continue;
      keys.add(key);
      added.push(item);
    }
    return added;
  }
}

function matchesEverything(item: QueryItem): boolean {
  return (item.types === undefined || item.types.length === 0) && (item.tags ?? []).length === 0;
}

/** The same key for items that match the same events whatever the order of their types and tags. */
function itemKey(item: QueryItem): string {
  return JSON.stringify([
    [...new Set(item.types ?? [])].sort(),
    [...new Set(item.tags ?? [])].sort(),
  ]);
}

/** The {@link CommandContext} the executor hands to one decision. */
export class DecisionContext implements CommandContext {
  readonly emitted: EmittedEvent[] = [];
  /** Built on first use, and only for long boundaries: `includes` is cheaper for a few ids. */
  private boundarySet: ReadonlySet<StreamId> | undefined;

  constructor(
    private readonly command: Record<string, unknown>,
    private readonly commandName: string,
    private readonly streamProperties: readonly string[],
    private readonly boundaryIds: readonly StreamId[],
    private readonly boundaryQuery: BoundaryQuery | undefined,
    readonly now: Date,
    private readonly idGenerator: () => string,
  ) {}

  get boundary(): readonly StreamId[] {
    return [...this.boundaryIds];
  }

  get query(): EventQuery | undefined {
    return this.boundaryQuery?.query;
  }

  emit(
    stream: string,
    event: EmittedDomainEvent,
    custom?: Readonly<Record<string, unknown>>,
  ): void {
    if (!this.streamProperties.includes(stream)) {
      throw new UndeclaredStreamError(this.commandName, `(property ${stream})`);
    }
    const value = this.command[stream];
    if (typeof value !== 'string') {
      throw new InvalidCommandError(
        this.commandName,
        `property ${stream} holds several streams; emit with ctx.emitTo(streamId, event)`,
      );
    }
    this.emitTo(value as StreamId, event, custom);
  }

  emitTo(
    streamId: StreamId,
    event: EmittedDomainEvent,
    custom?: Readonly<Record<string, unknown>>,
  ): void {
    if (!this.inBoundary(streamId))
      throw new UndeclaredStreamError(this.commandName, String(streamId));
    this.checkEvent(event);
    // A stream event is guarded by its stream's version; one with tags can also be found by
    // queries, so in a command with a query it must be covered by it like an appended one.
    if (this.boundaryQuery !== undefined && event.tags !== undefined && event.tags.length > 0) {
      this.checkCovered(this.boundaryQuery, event);
    }
    this.emitted.push({ streamId, event, custom });
  }

  append(event: EmittedDomainEvent, custom?: Readonly<Record<string, unknown>>): void {
    const query = this.queryOrRefuse('ctx.append()');
    this.checkEvent(event);
    this.checkCovered(query, event);
    this.emitted.push({ streamId: undefined, event, custom });
  }

  require(condition: unknown, message: string, rule?: string): asserts condition {
    if (!condition) throw new BusinessRuleViolationError(this.commandName, message, rule);
  }

  discover(...streamIds: StreamId[]): void {
    const missing = streamIds.map((id) => toStreamId(id)).filter((id) => !this.inBoundary(id));
    if (missing.length > 0) throw new DiscoveryRequest(missing);
  }

  widen(...items: QueryItem[]): void {
    const query = this.queryOrRefuse('ctx.widen()');
    validateQuery({ items }, `${this.commandName}: ctx.widen()`);
    const added = query.newItems(items);
    if (added.length > 0) throw new DiscoveryRequest([], added);
  }

  newId(): string {
    return this.idGenerator();
  }

  private inBoundary(id: StreamId): boolean {
    if (this.boundaryIds.length <= 8) return this.boundaryIds.includes(id);
    return (this.boundarySet ??= new Set(this.boundaryIds)).has(id);
  }

  private queryOrRefuse(call: string): BoundaryQuery {
    if (this.boundaryQuery === undefined) {
      throw new InvalidCommandError(
        this.commandName,
        `${call} needs a boundary query; add a @Boundary() method returning the query of the events the decision depends on`,
      );
    }
    return this.boundaryQuery;
  }

  private checkEvent(event: EmittedDomainEvent): void {
    if (
      typeof event !== 'object' ||
      event === null ||
      typeof event.type !== 'string' ||
      event.type === ''
    ) {
      throw new InvalidCommandError(this.commandName, 'it emitted an event without a string type');
    }
    if (event.tags !== undefined && !Array.isArray(event.tags)) {
      throw new InvalidCommandError(
        this.commandName,
        'it emitted an event whose tags are not an array',
      );
    }
  }

  private checkCovered(query: BoundaryQuery, event: EmittedDomainEvent): void {
    const tags = event.tags ?? [];
    if (!query.matches({ type: event.type, tags })) {
      throw new UncoveredEventError(this.commandName, event.type, tags);
    }
  }
}

/** Metadata shared by every event of one execution; per-event custom fields are merged in. */
export function eventMetadata(
  base: EventMetadata,
  custom: Readonly<Record<string, unknown>> | undefined,
): EventMetadata {
  return custom === undefined ? base : { ...base, custom: { ...base.custom, ...custom } };
}
