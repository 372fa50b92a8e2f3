import type { EventToAppend } from '../events/event';
import type { AppendCondition } from './event-query';
import type { AppendResult, EventStore } from './event-store';

/**
 * Appends events in no stream under an optional condition, the way the dcb.events API does:
 * `dcbAppend(store, [event], { failIfEventsMatch: query, after: position })`. The same as
 * `store.append([], { events, condition })`; each event is recorded in its own `$event-<id>`
 * stream and found by its type and tags.
 * @throws AppendConditionFailedError when an event matching the condition sits after `after`
 *   (or exists at all when `after` is omitted); nothing is written.
 * @throws InvalidAppendError for a malformed event or tag, InvalidQueryError for a malformed
 *   condition.
 */
export function dcbAppend(
  store: EventStore,
  events: readonly EventToAppend[],
  condition?: AppendCondition,
): Promise<AppendResult> {
  return store.append([], condition === undefined ? { events } : { events, condition });
}
