import type { DomainEvent, RecordedEvent } from '../events/event';
import type { Position } from '../store/event-store';

/** What a command execution wrote. */
export interface CommandResult<E extends DomainEvent = DomainEvent> {
  /** Id of this execution; the causation id of its events unless the caller gave one. */
  readonly commandId: string;
  readonly commandName: string;
  /** The events written, with stream versions and global positions. */
  readonly events: readonly RecordedEvent<E>[];
  /** Version of every stream of the boundary after the command. */
  readonly streamVersions: Readonly<Record<string, number>>;
  /** Position for read-your-writes: wait until a projection has passed it. */
  readonly position: Position;
  /** Attempts used (1 when there was no conflict). */
  readonly attempts: number;
  /** True when an idempotency key matched an earlier execution whose result this is. */
  readonly replayed: boolean;
}
