import type { DomainEvent, RecordedEvent } from '../events/event';
import { newEventId } from '../events/event-id';
import type { ProjectionHandler } from '../projection/projection.types';
import { streamId } from '../store/stream-id';
import type { StreamHistory } from './command-spec';

/**
 * Feeds events to a projection handler as the worker would (recorded events, in order, with the
 * given transaction handle) so a test can then assert on the read model:
 * `await projectEvents(projection, [['account-1', opened], ['account-1', deposited]]);`
 * Accepts either a list of `[streamId, event]` (global order) or a {@link StreamHistory}.
 */
export async function projectEvents<Tx>(
  handler: ProjectionHandler<Tx>,
  events: readonly (readonly [string, DomainEvent])[] | StreamHistory,
  tx?: Tx,
): Promise<RecordedEvent[]> {
  const ordered: (readonly [string, DomainEvent])[] = Array.isArray(events)
    ? [...events]
    : Object.entries(events as StreamHistory).flatMap(([id, list]) =>
        list.map((e) => [id, e] as const),
      );
  const versions = new Map<string, number>();
  const recorded = ordered.map(([id, event], index): RecordedEvent => {
    const version = (versions.get(id) ?? 0) + 1;
    versions.set(id, version);
    const now = new Date().toISOString();
    return Object.freeze({
      id: newEventId(),
      streamId: streamId(id),
      streamVersion: version,
      globalPosition: index + 1,
      type: event.type,
      data: event.data,
      schemaVersion: 1,
      metadata: { correlationId: 'spec', causationId: 'spec', userId: null, custom: {} },
      occurredAt: now,
      recordedAt: now,
    });
  });
  for (const event of recorded) await handler.handle(event, { tx: tx as Tx });
  return recorded;
}
