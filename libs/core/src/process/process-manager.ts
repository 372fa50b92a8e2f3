import type { CommandExecutor, ExecuteOptions } from '../command/command-executor';
import type { CommandLogic } from '../command/command-logic';
import type { CommandResult } from '../command/command-result';
import type { DomainEvent, RecordedEvent } from '../events/event';
import type { ProjectionContext, ProjectionHandler } from '../projection/projection.types';

/** What a process manager can do while reacting to one event. */
export interface ReactionContext<Tx = unknown> {
  /** The event being reacted to. */
  readonly event: RecordedEvent;
  /** The checkpoint store's transaction, as for projections. */
  readonly tx: Tx;
  /**
   * Executes a command caused by the event: correlation id and user id are the event's, the
   * causation id is the event's id, and the idempotency key is derived from the process manager,
   * the event id and the command's ordinal in this reaction — so a redelivered event re-executes
   * nothing. Options given here override the derived ones (except the idempotency key).
   */
  execute<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options?: Omit<ExecuteOptions, 'idempotencyKey'>,
  ): Promise<CommandResult<E>>;
}

/** The reaction of a process manager: event in, commands out. */
export type Reaction<Tx = unknown> = (
  event: RecordedEvent,
  context: ReactionContext<Tx>,
) => Promise<void> | void;

/**
 * Adapts a process manager's reaction into a projection handler, so it runs in a projection worker
 * with the same checkpointing, error policy and single active instance. Delivery is at-least-once;
 * the derived idempotency keys make the commands it issues effectively once.
 */
export function processManagerHandler<Tx = unknown>(
  name: string,
  executor: CommandExecutor,
  react: Reaction<Tx>,
): ProjectionHandler<Tx> {
  return {
    async handle(event: RecordedEvent, { tx }: ProjectionContext<Tx>): Promise<void> {
      let ordinal = 0;
      const context: ReactionContext<Tx> = {
        event,
        tx,
        execute: (command, options = {}) =>
          executor.execute(command, {
            correlationId: event.metadata.correlationId,
            causationId: event.id,
            userId: event.metadata.userId ?? undefined,
            metadata: event.metadata.custom,
            ...options,
            idempotencyKey: `${name}:${event.id}:${ordinal++}`,
          }),
      };
      await react(event, context);
    },
  };
}
