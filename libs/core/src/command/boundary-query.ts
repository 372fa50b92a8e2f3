import type { EventQuery, QueryItem } from '../store/event-query';

/** What {@link item} takes: the event types and the tags an item matches, both optional. */
export interface QueryItemSpec<T extends string = string> {
  /** The event types it matches; none (absent or empty): any type. */
  readonly types?: readonly T[];
  /** Tags an event must all carry; none: any tags. */
  readonly tags?: readonly string[];
}

/**
 * The event types a list of query items matches: the union of their `types`, or `string` when one
 * of them names no type (it matches any) or there is no item (the query matches every event).
 */
export type CoveredEventTypes<Items extends readonly QueryItem[]> = [
  Items[number] extends infer I ? (I extends QueryItem<infer T> ? T : never) : never,
] extends [infer U extends string]
  ? [U] extends [never]
    ? string
    : U
  : string;

/**
 * One item of a boundary query: it matches events of one of `types` that carry every one of
 * `tags`. With literal `types` the item's type names them, `QueryItem<'A' | 'B'>`, so that
 * `ctx.append` can accept only those; without types it matches any type, `QueryItem<string>`.
 * The item is a frozen copy.
 */
export function item<const T extends string = never>(
  spec: QueryItemSpec<T>,
): QueryItem<CoveredEventTypes<[QueryItem<T>]>> {
  const copy: { types?: readonly string[]; tags?: readonly string[] } = {};
  if (spec.types !== undefined) copy.types = Object.freeze([...spec.types]);
  if (spec.tags !== undefined) copy.tags = Object.freeze([...spec.tags]);
  return Object.freeze(copy) as QueryItem<CoveredEventTypes<[QueryItem<T>]>>;
}

/**
 * A boundary query: `items` combined with OR, typed by the union of the event types they cover
 * (`string` as soon as one item covers any type, or when there is no item, which matches every
 * event). Return it from a command's `@Boundary()` method. The query is a frozen copy.
 */
export function query<const Items extends readonly QueryItem[]>(
  ...items: Items
): EventQuery<CoveredEventTypes<Items>> {
  return Object.freeze({ items: Object.freeze([...items]) }) as EventQuery<
    CoveredEventTypes<Items>
  >;
}
