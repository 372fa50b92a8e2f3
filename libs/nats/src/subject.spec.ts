import { InvalidOptionsError } from '@eventcore/core';
import fc from 'fast-check';
import {
  checkSubjectPrefix,
  escapeSubjectToken,
  eventSubject,
  parseEventSubject,
  streamCategory,
  unescapeSubjectToken,
} from './subject';

describe('subject tokens', () => {
  it('escapes what NATS gives a meaning to, as UTF-8 %XX, and keeps the rest', () => {
    expect(escapeSubjectToken('account')).toBe('account');
    expect(escapeSubjectToken('a.b')).toBe('a%2Eb');
    expect(escapeSubjectToken('*')).toBe('%2A');
    expect(escapeSubjectToken('>')).toBe('%3E');
    expect(escapeSubjectToken('100%')).toBe('100%25');
    expect(escapeSubjectToken('two words')).toBe('two%20words');
    expect(escapeSubjectToken('tab\there')).toBe('tab%09here');
    expect(escapeSubjectToken('line\r\n')).toBe('line%0D%0A');
    expect(escapeSubjectToken('nbsp\u00a0')).toBe('nbsp%C2%A0');
    expect(escapeSubjectToken('zero\u200bwidth')).toBe('zero%E2%80%8Bwidth');
    expect(escapeSubjectToken('Überweisung-日本')).toBe('Überweisung-日本');
  });

  it('refuses an empty token, which NATS cannot route', () => {
    expect(() => escapeSubjectToken('', 'event type')).toThrow(InvalidOptionsError);
    expect(() => escapeSubjectToken('', 'event type')).toThrow(/event type.*cannot be empty/);
  });

  it('refuses a lone surrogate, which has no UTF-8 form', () => {
    expect(() => escapeSubjectToken('a\ud800')).toThrow(/lone UTF-16 surrogate/);
  });

  it('never yields a character NATS treats specially, and round-trips any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), (text) => {
        const token = escapeSubjectToken(text);
        expect(token).not.toMatch(/[.*>\s\p{Cc}]/u);
        expect(token).not.toBe('');
        expect(unescapeSubjectToken(token)).toBe(text);
      }),
      { numRuns: 2_000 },
    );
  });

  it('round-trips the characters the escaping treats specially, in any mix', () => {
    const special = fc.constantFrom(
      '.',
      '*',
      '>',
      '%',
      ' ',
      '\t',
      '\n',
      '\u0000',
      '\u00a0',
      'é',
      '%2E',
      'a',
    );
    fc.assert(
      fc.property(fc.array(special, { minLength: 1 }), (parts) => {
        const text = parts.join('');
        expect(unescapeSubjectToken(escapeSubjectToken(text))).toBe(text);
      }),
    );
  });

  it('refuses a %XX sequence that is not UTF-8 when unescaping', () => {
    expect(() => unescapeSubjectToken('%FF')).toThrow(InvalidOptionsError);
  });
});

describe('event subjects', () => {
  it('is <prefix>.<tenant>.<category>.<type>, each token escaped, and parses back', () => {
    const parts = {
      tenant: 'default',
      category: streamCategory('order.v2-7'),
      type: 'Order Placed',
    };
    const subject = eventSubject('bank.events', parts);
    expect(subject).toBe('bank.events.default.order%2Ev2.Order%20Placed');
    expect(parseEventSubject('bank.events', subject)).toEqual({ ...parts, category: 'order.v2' });
    expect(parseEventSubject('other', subject)).toBeUndefined();
  });

  it('takes the category before the first dash; $event-<id> streams are $event', () => {
    expect(streamCategory('account-42')).toBe('account');
    expect(streamCategory('account-42-x')).toBe('account');
    expect(streamCategory('inbox')).toBe('inbox');
    expect(streamCategory('-odd')).toBe('-odd');
    expect(streamCategory('$event-0190f5b2-7c1e-7000-8000-000000000000')).toBe('$event');
  });

  it('checks a prefix: dot-separated non-empty tokens, no wildcards or spaces', () => {
    expect(checkSubjectPrefix('bank.events', 'prefix')).toBe('bank.events');
    for (const bad of ['', 'a..b', '.a', 'a.', 'a.*', 'a.>', 'a b', 42]) {
      expect(() => checkSubjectPrefix(bad, 'prefix')).toThrow(InvalidOptionsError);
    }
  });
});
