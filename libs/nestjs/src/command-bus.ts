import { Inject, Injectable } from '@nestjs/common';
import type {
  CommandExecutor,
  CommandLogic,
  CommandResult,
  DomainEvent,
  ExecuteOptions,
} from '@eventcore/core';
import { EVENTCORE_COMMAND_EXECUTOR } from './eventcore.constants';

/**
 * Executes commands in a Nest application. Inject it anywhere once `EventCoreModule` is imported.
 * Errors are the core's typed errors (see `isEventCoreError`); map them to HTTP in your filters.
 */
@Injectable()
export class CommandBus {
  constructor(@Inject(EVENTCORE_COMMAND_EXECUTOR) private readonly executor: CommandExecutor) {}

  /** Validates, reads the boundary, decides and appends atomically; see `CommandExecutor.execute`. */
  execute<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options?: ExecuteOptions,
  ): Promise<CommandResult<E>> {
    return this.executor.execute(command, options);
  }
}
