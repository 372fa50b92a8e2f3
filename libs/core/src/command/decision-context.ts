import type { DomainEvent, EventMetadata } from '../events/event';
import { BusinessRuleViolationError, InvalidCommandError, UndeclaredStreamError } from '../errors';
import { type StreamId, streamId as toStreamId } from '../store/stream-id';
import type { CommandContext } from './command-logic';

/** Thrown by `ctx.discover` to stop a decision that needs more streams; caught by the executor. */
export class DiscoveryRequest {
  constructor(readonly streamIds: readonly StreamId[]) {}
}

/** One emitted event, before the executor turns it into an `EventToAppend`. */
export interface EmittedEvent {
  readonly streamId: StreamId;
  readonly event: DomainEvent;
  readonly custom: Readonly<Record<string, unknown>> | undefined;
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
    readonly now: Date,
    private readonly idGenerator: () => string,
  ) {}

  get boundary(): readonly StreamId[] {
    return [...this.boundaryIds];
  }

  emit(stream: string, event: DomainEvent, custom?: Readonly<Record<string, unknown>>): void {
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

  emitTo(streamId: StreamId, event: DomainEvent, custom?: Readonly<Record<string, unknown>>): void {
    if (!this.inBoundary(streamId))
      throw new UndeclaredStreamError(this.commandName, String(streamId));
    if (
      typeof event !== 'object' ||
      event === null ||
      typeof event.type !== 'string' ||
      event.type === ''
    ) {
      throw new InvalidCommandError(this.commandName, 'it emitted an event without a string type');
    }
    this.emitted.push({ streamId, event, custom });
  }

  require(condition: unknown, message: string, rule?: string): asserts condition {
    if (!condition) throw new BusinessRuleViolationError(this.commandName, message, rule);
  }

  discover(...streamIds: StreamId[]): void {
    const missing = streamIds.map((id) => toStreamId(id)).filter((id) => !this.inBoundary(id));
    if (missing.length > 0) throw new DiscoveryRequest(missing);
  }

  private inBoundary(id: StreamId): boolean {
    if (this.boundaryIds.length <= 8) return this.boundaryIds.includes(id);
    return (this.boundarySet ??= new Set(this.boundaryIds)).has(id);
  }

  newId(): string {
    return this.idGenerator();
  }
}

/** Metadata shared by every event of one execution; per-event custom fields are merged in. */
export function eventMetadata(
  base: EventMetadata,
  custom: Readonly<Record<string, unknown>> | undefined,
): EventMetadata {
  return custom === undefined ? base : { ...base, custom: { ...base.custom, ...custom } };
}
