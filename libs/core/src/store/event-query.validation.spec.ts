import fc from 'fast-check';
import { ErrorCodes, InvalidQueryError } from '../errors';
import { ALL_EVENTS, type EventQuery } from './event-query';
import {
  compileQuery,
  tagProblem,
  validateCondition,
  validateQuery,
  validateReadOptions,
} from './event-query.validation';
import { streamIdProblem } from './stream-id';

/** Asserts `run` throws an InvalidQueryError whose reason contains `reason`. */
function expectRefused(run: () => void, reason: string): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InvalidQueryError);
  expect(thrown).toMatchObject({ code: ErrorCodes.invalidQuery });
  expect((thrown as InvalidQueryError).reason).toContain(reason);
  expect((thrown as InvalidQueryError).message).toContain(reason);
}

describe('validateQuery', () => {
  it.each<[string, EventQuery]>([
    ['no items (all events)', { items: [] }],
    ['ALL_EVENTS', ALL_EVENTS],
    ['an empty item', { items: [{}] }],
    ['types only', { items: [{ types: ['Subscribed', 'Left'] }] }],
    ['tags only', { items: [{ tags: ['course:c1', 'student:s 1'] }] }],
    [
      'mixed items',
      {
        items: [
          { types: ['A'], tags: ['t'] },
          { types: [], tags: [] },
        ],
      },
    ],
    ['optional keys present but undefined', { items: [{ types: undefined, tags: undefined }] }],
  ])('accepts %s', (_label, query) => {
    expect(() => validateQuery(query)).not.toThrow();
  });

  it.each<[string, unknown, string]>([
    ['undefined', undefined, 'query must be an object, not undefined'],
    ['null', null, 'query must be an object, not null'],
    ['an array', [], 'query must be an object, not an array'],
    ['a string', 'all', 'query must be an object, not "all"'],
    ['no items', {}, 'query.items must be an array, not undefined'],
    ['items not an array', { items: { types: ['A'] } }, 'items must be an array, not an object'],
    ['an item that is null', { items: [null] }, 'items[0] must be an object, not null'],
    [
      'an item that is an array',
      { items: [{}, ['A']] },
      'items[1] must be an object, not an array',
    ],
    [
      'types not an array',
      { items: [{ types: 'A' }] },
      'items[0].types must be an array of strings',
    ],
    ['tags not an array', { items: [{ tags: 't' }] }, 'items[0].tags must be an array of strings'],
    ['a type not a string', { items: [{ types: ['A', 1] }] }, 'items[0].types[1] must be a string'],
    ['a tag not a string', { items: [{ tags: [null] }] }, 'items[0].tags[0] must be a string'],
    [
      'an empty type',
      { items: [{ types: [''] }] },
      'types[0] "" is not an event type: it is empty',
    ],
    ['a type with NUL', { items: [{ types: ['A\u0000'] }] }, 'it contains a NUL character'],
    ['an empty tag', { items: [{ tags: [''] }] }, 'tags[0] "" is not a valid tag: it is empty'],
    ['a padded tag', { items: [{ tags: [' t'] }] }, 'leading or trailing whitespace'],
    ['a tag with a control character', { items: [{ tags: ['a\nb'] }] }, 'control character'],
    ['a tag with a pattern character', { items: [{ tags: ['a*'] }] }, 'reserved for stream'],
    ['a reserved tag', { items: [{ tags: ['$x'] }] }, 'starts with "$"'],
    ['an unknown query key', { items: [], all: true }, 'unknown key "all" (allowed: items)'],
    [
      'a misspelt item key',
      { items: [{ tag: ['t'] }] },
      'unknown key "tag" (allowed: types, tags)',
    ],
  ])('refuses %s', (_label, query, reason) => {
    expectRefused(() => validateQuery(query), reason);
  });

  it('refuses exactly the tags a stream id would be refused as', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (tag) => {
        const problem = streamIdProblem(tag);
        expect(tagProblem(tag)).toBe(problem);
        if (problem === undefined)
          expect(() => validateQuery({ items: [{ tags: [tag] }] })).not.toThrow();
        else expect(() => validateQuery({ items: [{ tags: [tag] }] })).toThrow(InvalidQueryError);
      }),
      { numRuns: 500 },
    );
    expect(tagProblem('x'.repeat(256))).toContain('more than 255');
  });
});

describe('validateReadOptions', () => {
  it.each([
    undefined,
    {},
    { from: 0 },
    { from: 1, backwards: true, limit: 1 },
    { from: Number.MAX_SAFE_INTEGER, backwards: false, limit: 10_000 },
    { from: undefined, backwards: undefined, limit: undefined },
  ])('accepts %p', (options) => {
    expect(() => validateReadOptions(options)).not.toThrow();
  });

  it.each<[unknown, string]>([
    [null, 'the read options must be an object, not null'],
    [5, 'the read options must be an object, not 5'],
    [{ from: -1 }, 'from must be a global position (an integer >= 0), not -1'],
    [{ from: 1.5 }, 'not 1.5'],
    [{ from: '3' }, 'not "3"'],
    [{ from: Number.MAX_SAFE_INTEGER + 1 }, 'from must be a global position'],
    [{ from: Number.NaN }, 'not NaN'],
    [{ backwards: 'yes' }, 'backwards must be a boolean, not "yes"'],
    [{ backwards: 1 }, 'backwards must be a boolean, not 1'],
    [{ limit: 0 }, 'limit must be an integer from 1 to 10000, not 0'],
    [{ limit: 10_001 }, 'not 10001'],
    [{ limit: 2.5 }, 'not 2.5'],
    [{ limit: Number.POSITIVE_INFINITY }, 'not Infinity'],
    [{ limit: '10' }, 'not "10"'],
    [{ after: 3 }, 'unknown key "after" (allowed: from, backwards, limit)'],
  ])('refuses %p', (options, reason) => {
    expectRefused(() => validateReadOptions(options), reason);
  });
});

describe('validateCondition', () => {
  it.each([
    { failIfEventsMatch: { items: [] } },
    { failIfEventsMatch: { items: [{ tags: ['t'] }] }, after: 0 },
    { failIfEventsMatch: ALL_EVENTS, after: 42 },
    { failIfEventsMatch: ALL_EVENTS, after: undefined },
  ])('accepts %p', (condition) => {
    expect(() => validateCondition(condition)).not.toThrow();
  });

  it.each<[unknown, string]>([
    [undefined, 'the append condition must be an object, not undefined'],
    [[], 'the append condition must be an object, not an array'],
    [{}, 'condition.failIfEventsMatch must be an object, not undefined'],
    [
      { failIfEventsMatch: { items: [{ tags: [''] }] } },
      'condition.failIfEventsMatch.items[0].tags[0]',
    ],
    [{ failIfEventsMatch: ALL_EVENTS, after: -1 }, 'condition.after must be a global position'],
    [{ failIfEventsMatch: ALL_EVENTS, after: 0.5 }, 'or absent, not 0.5'],
    [{ failIfEventsMatch: ALL_EVENTS, after: '7' }, 'not "7"'],
    [{ failIfEventsMatch: ALL_EVENTS, after: null }, 'not null'],
    [
      { failIfEventsMatch: ALL_EVENTS, from: 3 },
      'unknown key "from" (allowed: failIfEventsMatch, after)',
    ],
  ])('refuses %p', (condition, reason) => {
    expectRefused(() => validateCondition(condition), reason);
  });
});

describe('compileQuery', () => {
  const event = (type: string, ...tags: string[]) => ({ type, tags });

  it('matches every event with no item or with an item naming neither types nor tags', () => {
    for (const query of [
      ALL_EVENTS,
      { items: [{}] },
      { items: [{ types: ['X'] }, { tags: [] }] },
    ]) {
      const matches = compileQuery(query);
      expect(matches(event('A'))).toBe(true);
      expect(matches(event('B', 't'))).toBe(true);
    }
  });

  it('matches by type when an item names types only', () => {
    const matches = compileQuery({ items: [{ types: ['A', 'B'] }] });
    expect(matches(event('A'))).toBe(true);
    expect(matches(event('B', 'x'))).toBe(true);
    expect(matches(event('C', 'A'))).toBe(false);
  });

  it('needs every tag of an item, in any order, when it names tags only', () => {
    const matches = compileQuery({ items: [{ tags: ['t1', 't2'] }] });
    expect(matches(event('A', 't2', 'x', 't1'))).toBe(true);
    expect(matches(event('B', 't1'))).toBe(false);
    expect(matches(event('B'))).toBe(false);
  });

  it('needs the type and every tag of a mixed item', () => {
    const matches = compileQuery({ items: [{ types: ['A'], tags: ['t'] }] });
    expect(matches(event('A', 't'))).toBe(true);
    expect(matches(event('A'))).toBe(false);
    expect(matches(event('B', 't'))).toBe(false);
  });

  it('combines items with OR', () => {
    const matches = compileQuery({ items: [{ types: ['A'] }, { tags: ['t'] }] });
    expect(matches(event('A'))).toBe(true);
    expect(matches(event('B', 't'))).toBe(true);
    expect(matches(event('B', 'u'))).toBe(false);
  });

  it('agrees with the definition on random queries and events', () => {
    const names = fc.constantFrom('a', 'b', 'c');
    const item = fc.record(
      { types: fc.array(names, { maxLength: 2 }), tags: fc.array(names, { maxLength: 2 }) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 3 }),
        names,
        fc.uniqueArray(names, { maxLength: 3 }),
        (items, type, tags) => {
          const expected =
            items.length === 0 ||
            items.some(
              (i) =>
                (i.types === undefined || i.types.length === 0 || i.types.includes(type)) &&
                (i.tags ?? []).every((t) => tags.includes(t)),
            );
          expect(compileQuery({ items })(event(type, ...tags))).toBe(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
