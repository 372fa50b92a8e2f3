import fc from 'fast-check';
import { frozenJsonCopy, NOT_PLAIN_JSON } from './frozen-json';

/** Every object reachable from `value`, itself included. */
function objectsIn(value: unknown): object[] {
  if (typeof value !== 'object' || value === null) return [];
  return [value, ...Object.values(value).flatMap(objectsIn)];
}

describe('frozenJsonCopy', () => {
  it('equals the JSON round trip of any JSON value (-0 included), deep-frozen, sharing no object', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        const copy = frozenJsonCopy(value);
        if (JSON.stringify(value).includes('"__proto__":')) {
          // Documented: such values go the JSON round trip (found by this property, seed 210655456).
          expect(copy).toBe(NOT_PLAIN_JSON);
          return;
        }
        expect(copy).toEqual(JSON.parse(JSON.stringify(value)));
        const originals = new Set(objectsIn(value));
        for (const object of objectsIn(copy)) {
          expect(Object.isFrozen(object)).toBe(true);
          expect(originals.has(object)).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('turns -0 into 0 as JSON does', () => {
    expect(Object.is(frozenJsonCopy(-0), 0)).toBe(true);
    expect(Object.is((frozenJsonCopy([-0]) as number[])[0], 0)).toBe(true);
  });

  it('keeps key order, integer-like keys included', () => {
    const value = { b: 1, 2: 'two', a: [true, null], 1: 'one' };
    expect(Object.keys(frozenJsonCopy(value) as object)).toEqual(
      Object.keys(JSON.parse(JSON.stringify(value)) as object),
    );
  });

  it('copies an object without a prototype into a plain object, as JSON.parse would', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    const copy = frozenJsonCopy(bare) as object;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy).toEqual({ a: 1 });
  });

  class Money {
    constructor(readonly amount: number) {}
  }
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  let deep: unknown = 1;
  for (let i = 0; i < 150; i++) deep = [deep];
  const withProtoKey = JSON.parse('{"__proto__": {"x": 1}}') as unknown;

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a BigInt', 10n],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a Date (toJSON)', new Date(0)],
    ['an object with toJSON', { toJSON: () => 'x' }],
    ['a class instance', new Money(1)],
    ['a Map', new Map([[1, 2]])],
    ['a boxed number', Object(1) as unknown],
    ['an undefined member', { a: undefined }],
    ['a function member', { a: () => 1 }],
    ['an array hole', [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['an undefined array item', [1, undefined]],
    ['an array subclass', new (class extends Array {})()],
    ['a nested class instance', { a: [{ b: new Money(2) }] }],
    ['a cycle', cyclic],
    ['nesting deeper than 100', deep],
    ['a "__proto__" key', withProtoKey],
  ])('refuses %s, whose JSON round trip is not an exact copy', (_label, value) => {
    expect(frozenJsonCopy(value)).toBe(NOT_PLAIN_JSON);
  });
});
