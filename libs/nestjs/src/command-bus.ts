import { Inject, Injectable } from '@nestjs/common';
import type {
  CommandExecutor,
  CommandLogic,
  CommandResult,
  DomainEvent,
  ExecuteOptions,
} from '@eventcore/core';
import { EVENTCORE_COMMAND_EXECUTOR } from './eventcore.constants';
import { TenantDirectory } from './tenancy/tenant-directory';

/**
 * Executes commands in a Nest application. Inject it anywhere once `EventCoreModule` is imported.
 * Errors are the core's typed errors (see `isEventCoreError`); map them to HTTP in your filters.
 * Under tenancy each command runs on the store of the tenant in context, chosen once per command.
 */
@Injectable()
export class CommandBus {
  constructor(
    @Inject(EVENTCORE_COMMAND_EXECUTOR) private readonly executor: CommandExecutor,
    private readonly tenants: TenantDirectory,
  ) {}

  /**
   * Validates, reads the boundary, decides and appends atomically; see `CommandExecutor.execute`.
   * @throws TenantRequiredError under tenancy, when no tenant is in context
   */
  execute<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options?: ExecuteOptions,
  ): Promise<CommandResult<E>> {
    if (this.tenants.enabled) return this.tenants.execute(command, options);
    return this.executor.execute(command, options);
  }
}
