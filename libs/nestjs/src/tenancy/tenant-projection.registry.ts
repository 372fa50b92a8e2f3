import type { DeadLetter, Position, ProjectionStatus } from '@eventcore/core';
import {
  ProjectionRegistry,
  type WaitForLagOptions,
  type WaitForOptions,
} from '../projections/projection.registry';
import type { TenantDirectory } from './tenant-directory';
import { TenantRoutingEventStore } from './tenant-routing.event-store';
import { InMemoryCheckpointStore } from '@eventcore/core';
import type { TenantContext } from './tenant-context';

/**
 * `ProjectionRegistry` under tenancy (what injecting it gives): every call acts on the projections
 * of the tenant in context — status, pause, resume, rebuild, and read-your-writes on that tenant's
 * checkpoints — and fails with `TenantRequiredError` outside one.
 */
export class TenantProjectionRegistry extends ProjectionRegistry {
  constructor(
    context: TenantContext,
    private readonly directory: TenantDirectory,
  ) {
    super(new TenantRoutingEventStore(context), new InMemoryCheckpointStore());
  }

  override names(): string[] {
    return this.current().names();
  }

  override list(): ProjectionStatus[] {
    return this.current().list();
  }

  override get(name: string): ProjectionStatus {
    return this.current().get(name);
  }

  override start(name: string): void {
    this.current().start(name);
  }

  override pause(name: string): Promise<ProjectionStatus> {
    return this.current().pause(name);
  }

  override resume(name: string): Promise<ProjectionStatus> {
    return this.current().resume(name);
  }

  override rebuild(name: string): Promise<ProjectionStatus> {
    return this.current().rebuild(name);
  }

  override deadLetters(name: string): Promise<readonly DeadLetter[]> {
    return this.current().deadLetters(name);
  }

  override waitFor(position: Position, options?: WaitForOptions): Promise<void> {
    return this.current().waitFor(position, options);
  }

  override waitForLag(options: WaitForLagOptions): Promise<void> {
    return this.current().waitForLag(options);
  }

  private current(): ProjectionRegistry {
    return this.directory.currentProjections();
  }
}
