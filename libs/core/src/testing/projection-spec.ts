import type { RecordedEvent } from '../events/event';
import { newEventId } from '../events/event-id';
import type { EventTypeRegistry } from '../events/event-type-registry';
import type { ProjectionHandler } from '../projection/projection.types';
import { streamId } from '../store/stream-id';
import { type HistoryEvent, type StreamHistory, storedForm } from './command-spec';

/** Options of {@link projectEvents}. */
export interface ProjectEventsOptions<Tx = unknown> {
  /** Handed to the handler as `context.tx`. */
  readonly tx?: Tx;
  /**
   * Event types with schema versions and upcasters: events are stored at their type's current
   * version unless they name an older `schemaVersion`, and reach the handler upcast, as from the
   * worker. A failing upcast throws `EventDecodeError`.
   */
  readonly events?: EventTypeRegistry;
}

/**
 * Feeds events to a projection handler as the worker would (recorded events, in order, upcast
 * through `options.events` when given, with the given transaction handle) so a test can then
 * assert on the read model:
 * `await projectEvents(projection, [['account-1', opened], ['account-1', deposited]]);`
 * Accepts either a list of `[streamId, event]` (global order) or a {@link StreamHistory}.
 * Returns the events as the handler received them.
 * @throws EventDecodeError when an event cannot be upcast to its current shape.
 */
export async function projectEvents<Tx>(
  handler: ProjectionHandler<Tx>,
  events: readonly (readonly [string, HistoryEvent])[] | StreamHistory,
  options: ProjectEventsOptions<Tx> = {},
): Promise<RecordedEvent[]> {
  const ordered: (readonly [string, HistoryEvent])[] = Array.isArray(events)
    ? [...events]
    : Object.entries(events as StreamHistory).flatMap(([id, list]) =>
        list.map((e) => [id, e] as const),
      );
  const registry = options.events;
  const versions = new Map<string, number>();
  const stored = ordered.map(([id, event], index): RecordedEvent => {
    const version = (versions.get(id) ?? 0) + 1;
    versions.set(id, version);
    const now = new Date().toISOString();
    const { data, schemaVersion = 1, encoding } = storedForm(event, registry);
    return Object.freeze({
      id: newEventId(),
      streamId: streamId(id),
      streamVersion: version,
      globalPosition: index + 1,
      tags: [],
      type: event.type,
      data,
      schemaVersion,
      ...(encoding === undefined ? {} : { encoding }),
      metadata: { correlationId: 'spec', causationId: 'spec', userId: null, custom: {} },
      occurredAt: now,
      recordedAt: now,
    });
  });
  // Upcast all first, as the worker upcasts a batch before handing it over.
  const current = registry === undefined ? stored : stored.map((e) => registry.upcast(e));
  for (const event of current) await handler.handle(event, { tx: options.tx as Tx });
  return current;
}
