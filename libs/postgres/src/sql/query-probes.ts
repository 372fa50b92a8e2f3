import type { EventQuery } from '@eventcore/core';

/**
 * One index range that serves part of a query (the SQL receives a list as jsonb; see
 * `probeRanges` in `dcb.sql.ts`):
 * - `tag`: an item with tags, through `event_tags (tag, global_position)` on its first tag (`key`);
 *   the event must also carry every other tag of the item and, when `types` is given, have one of
 *   them (the type is in the index: no event is fetched to reject it);
 * - `type`: one type of an item with types only, through `events (type, global_position)`;
 * - `all`: an item with neither (or a query with no item), through the primary key.
 * The same list names the DCB locks of a condition (see `append_dcb_v6`): every event a `tag` probe
 * can match carries its key, so the key's lock covers the item.
 */
export interface Probe {
  readonly k: 'tag' | 'type' | 'all';
  readonly key: string | null;
  readonly tags: readonly string[] | null;
  readonly types: readonly string[] | null;
}

const ALL: Probe = Object.freeze({ k: 'all', key: null, tags: null, types: null });

/**
 * The probes of a validated query, without duplicates. An item with neither types nor tags (or no
 * item at all) matches every event, so the query is then the one `all` probe.
 */
export function queryProbes(query: EventQuery): Probe[] {
  const probes = new Map<string, Probe>();
  const add = (probe: Probe) => probes.set(JSON.stringify(probe), probe);
  for (const item of query.items) {
    const tags = item.tags === undefined || item.tags.length === 0 ? null : [...new Set(item.tags)];
    const types =
      item.types === undefined || item.types.length === 0 ? null : [...new Set(item.types)];
    if (tags !== null) add({ k: 'tag', key: tags[0]!, tags, types });
    else if (types !== null)
      for (const type of types) add({ k: 'type', key: type, tags: null, types: null });
    else return [ALL];
  }
  return probes.size === 0 ? [ALL] : [...probes.values()];
}

/** The largest bigint, the upper bound of a read without one. */
export const MAX_POSITION = '9223372036854775807';
