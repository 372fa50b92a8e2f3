import type { CheckpointStore, EventStore, Position } from '@eventcore/core';
import { ProjectionRegistry, type WaitForOptions } from '../projections/projection.registry';

/**
 * The projections of a tenant that was moved between servers: a read-your-writes token given
 * before the move names a position of the old server, so `waitFor` translates it first (see
 * `TenantParts.translatePosition`); waiting on it untranslated could return too early or never.
 */
export class MovedTenantProjectionRegistry extends ProjectionRegistry {
  constructor(
    store: EventStore,
    checkpoints: CheckpointStore,
    private readonly translate: (position: Position) => Position,
  ) {
    super(store, checkpoints);
  }

  override waitFor(position: Position, options?: WaitForOptions): Promise<void> {
    let translated: Position;
    try {
      translated = this.translate(position);
    } catch {
      // A malformed token is left for the registry to refuse with its own error.
      translated = position;
    }
    return super.waitFor(translated, options);
  }
}
