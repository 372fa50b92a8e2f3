import { HttpException } from '@nestjs/common';
import { InvalidOptionsError } from '@eventcore/core';
import { checkRequestInput, requestLimits } from './request-limits';

/** The response body of what `checkRequestInput` throws, or 'accepted'. */
function verdict(value: unknown, limits = requestLimits(), name?: string): unknown {
  try {
    checkRequestInput(value, 'body', name, limits);
    return 'accepted';
  } catch (error) {
    if (!(error instanceof HttpException)) throw error;
    return error.getResponse();
  }
}

describe('checkRequestInput', () => {
  it('accepts ordinary input, paired surrogates and text that only spells an escape', () => {
    expect(verdict({ owner: 'Ann 🚀 𝄞', note: '\\u0000', list: [1, { a: 'b' }] })).toBe('accepted');
  });

  it('refuses nesting deeper than maxDepth without overflowing the stack', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(verdict({ deep })).toMatchObject({ code: 'request.too_deep', maxDepth: 32 });
    let three: unknown = 'x';
    for (let i = 0; i < 3; i++) three = [three];
    expect(verdict(three, requestLimits({ maxDepth: 3 }))).toBe('accepted');
    expect(verdict([three], requestLimits({ maxDepth: 3 }))).toMatchObject({
      code: 'request.too_deep',
      maxDepth: 3,
    });
  });

  it('refuses more than maxValues values, counted at every level', () => {
    const limits = requestLimits({ maxValues: 4 });
    expect(verdict({ a: [1, 2], b: 3 }, limits)).toBe('accepted'); // a, b, 1, 2
    expect(verdict({ a: [1, 2], b: { c: 3 } }, limits)).toMatchObject({
      code: 'request.too_many_values',
      maxValues: 4,
    });
  });

  it('names every field with a prototype key or text no store can hold', () => {
    const body = JSON.parse(
      '{"__proto__": {"x": 1}, "a": {"constructor": 1, "prototype": 2}, "s": ["ok", "\\u0000"], "k\\ud800": 1}',
    ) as unknown;
    const answer = verdict(body) as { code: string; failures: { property: string }[] };
    expect(answer.code).toBe('request.invalid');
    expect(answer.failures.map((f) => f.property).sort()).toEqual(
      ['__proto__', 'a.constructor', 'a.prototype', 's.1', 'k\ud800'].sort(),
    );
  });

  it('names a single parameter by its name', () => {
    expect(verdict('a\u0000', requestLimits(), 'id')).toMatchObject({
      failures: [{ property: 'id', constraints: { storableText: expect.stringMatching(/^id /) } }],
    });
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses the limit %p', (limit) => {
    expect(() => requestLimits({ maxDepth: limit })).toThrow(InvalidOptionsError);
    expect(() => requestLimits({ maxValues: limit })).toThrow(InvalidOptionsError);
  });
});
