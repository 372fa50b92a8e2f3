/**
 * What a writer expects of a stream's version when it appends.
 * - `exact n`: the stream is at version n (0 means it must not exist);
 * - `any`: no check;
 * - `exists`: the stream has at least one event.
 */
export type ExpectedVersion =
  | { readonly kind: 'exact'; readonly version: number }
  | { readonly kind: 'any' }
  | { readonly kind: 'exists' };

const ANY: ExpectedVersion = Object.freeze({ kind: 'any' });
const EXISTS: ExpectedVersion = Object.freeze({ kind: 'exists' });
const NO_STREAM: ExpectedVersion = Object.freeze({ kind: 'exact', version: 0 });

/** Constructors for {@link ExpectedVersion}. */
export const ExpectedVersion = {
  exact: (version: number): ExpectedVersion => ({ kind: 'exact', version }),
  any: ANY,
  exists: EXISTS,
  noStream: NO_STREAM,
} as const;

/** True when a stream at `actual` satisfies `expected`. */
export function satisfies(expected: ExpectedVersion, actual: number): boolean {
  switch (expected.kind) {
    case 'exact':
      return actual === expected.version;
    case 'exists':
      return actual > 0;
    case 'any':
      return true;
  }
}
