import type { EventQuery, QueryItem } from '../store/event-query';

/** What {@link item} takes: the event types and the tags an item matches, both optional. */
export interface QueryItemSpec<T extends string = string> {
  /** The event types it matches; none (absent or empty): any type. */
  readonly types?: readonly T[];
  /** Tags an event must all carry; none: any tags. */
  readonly tags?: readonly string[];
}

/** `string` when `T` names no type (an item or a query of any type), else `T`. */
type Covered<T extends string> = [T] extends [never] ? string : T;

/**
 * One item of a boundary query: it matches events of one of `types` that carry every one of
 * `tags`. With literal `types` the item's type names them, `QueryItem<'A' | 'B'>`, so that
 * `ctx.append` can accept only those; without types it matches any type, `QueryItem<string>`.
 * The item is a frozen copy.
 */
export function item<const T extends string = never>(
  spec: QueryItemSpec<T>,
): QueryItem<Covered<T>> {
  const copy: { types?: readonly string[]; tags?: readonly string[] } = {};
  if (spec.types !== undefined) copy.types = Object.freeze([...spec.types]);
  if (spec.tags !== undefined) copy.tags = Object.freeze([...spec.tags]);
  return Object.freeze(copy) as QueryItem<Covered<T>>;
}

/** The event types covered by an item (distributes over a union of items). */
type ItemTypes<I> = I extends QueryItem<infer T> ? T : never;

/**
 * A boundary query: `items` combined with OR, typed by the union of the event types they cover
 * (`string` as soon as one item covers any type, or when there is no item, which matches every
 * event). Return it from a command's `@Boundary()` method. The query is a frozen copy.
 */
export function query<const Items extends readonly QueryItem[]>(
  ...items: Items
): EventQuery<Covered<ItemTypes<Items[number]>>> {
  return Object.freeze({ items: Object.freeze([...items]) }) as EventQuery<
    Covered<ItemTypes<Items[number]>>
  >;
}
