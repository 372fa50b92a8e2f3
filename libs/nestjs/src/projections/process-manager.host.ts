import {
  type CommandExecutor,
  InvalidProjectionError,
  type ProjectionContext,
  type ProjectionHandler,
  processManagerHandler,
  type ReactionContext,
  type RecordedEvent,
} from '@eventcore/core';
import { ProjectionHost } from './projection.host';

/**
 * Base class of every `@ProcessManager()` provider: reacts to events by executing commands. It runs
 * like a projection (checkpoint, error policy, one active instance); each command it issues carries
 * the event's correlation id, the event's id as causation id, and an idempotency key derived from
 * the event, so redelivery executes nothing twice.
 *
 * ```ts
 * @ProcessManager({ name: 'fulfilment', eventTypes: ['PaymentRecorded'] })
 * export class Fulfilment extends ProcessManagerHost {
 *   async react(event: RecordedEvent, ctx: ReactionContext) {
 *     await ctx.execute(new ShipOrder(orderIdOf(event)));
 *   }
 * }
 * ```
 */
export abstract class ProcessManagerHost<Tx = unknown> extends ProjectionHost<Tx> {
  private handler: ProjectionHandler<Tx> | undefined;

  /** Reacts to one event; throwing triggers the error policy (the event is delivered again). */
  abstract react(event: RecordedEvent, context: ReactionContext<Tx>): Promise<void> | void;

  /** Connects the process manager to the command executor; done by EventCoreModule at startup. */
  attach(name: string, executor: CommandExecutor): void {
    this.handler = processManagerHandler<Tx>(name, executor, (event, context) =>
      this.react(event, context),
    );
  }

  handle(event: RecordedEvent, context: ProjectionContext<Tx>): Promise<void> {
    if (this.handler === undefined) {
      throw new InvalidProjectionError(
        this.constructor.name,
        'it was not attached to EventCoreModule; list it as a provider',
      );
    }
    return this.handler.handle(event, context) as Promise<void>;
  }
}
