import {
  CommandExecutor,
  type CommandLogic,
  type CommandResult,
  type DomainEvent,
  type ExecuteOptions,
} from '@eventcore/core';
import type { TenantContext } from './tenant-context';
import type { TenantDirectory } from './tenant-directory';
import { TenantRoutingEventStore } from './tenant-routing.event-store';

/**
 * The module's `CommandExecutor` under tenancy (what `EVENTCORE_COMMAND_EXECUTOR` gives): each
 * command runs on the executor of the tenant in context, so caches are never shared between
 * tenants.
 */
export class TenantRoutingCommandExecutor extends CommandExecutor {
  constructor(
    context: TenantContext,
    private readonly directory: TenantDirectory,
  ) {
    super(new TenantRoutingEventStore(context));
  }

  override execute<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options?: ExecuteOptions,
  ): Promise<CommandResult<E>> {
    return this.directory.execute(command, options);
  }
}
