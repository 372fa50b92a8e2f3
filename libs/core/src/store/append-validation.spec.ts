import fc from 'fast-check';
import { ErrorCodes, InvalidAppendError, InvalidQueryError } from '../errors';
import type { EventToAppend } from '../events/event';
import { newEventId } from '../events/event-id';
import { testEvent } from '../testing/event-store.contract';
import { validateWrites } from './append-validation';
import { ALL_EVENTS, type AppendOptions } from './event-query';
import type { StreamWrite } from './event-store';
import { ExpectedVersion } from './expected-version';
import { streamId, type StreamId } from './stream-id';

describe('validateWrites: event ids given twice', () => {
  it('refuses a request exactly when some id repeats, whatever order ids come in', () => {
    // Fresh UUIDv7 ids increase; the small fixed ids and the reused events break the order.
    const idOrReuse = fc.oneof(
      fc.constant<'fresh'>('fresh'),
      fc.constantFrom('b', 'a', 'c'),
      fc.nat({ max: 20 }).map((n) => ({ reuse: n })),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(idOrReuse, { maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        (plan) => {
          const made: ReturnType<typeof testEvent>[] = [];
          const writes: StreamWrite[] = plan.map((ids, w) => ({
            streamId: streamId(`s-${w}`),
            expected: ExpectedVersion.any,
            events: ids.map((given) => {
              // A reused event is the very same object again: its id repeats too.
              if (typeof given === 'object' && made.length > 0) {
                return made[given.reuse % made.length]!;
              }
              const id = typeof given === 'string' && given !== 'fresh' ? given : newEventId();
              const event = { ...testEvent('E'), id };
              made.push(event);
              return event;
            }),
          }));
          const ids = writes.flatMap((write) => write.events.map((event) => event.id));
          const repeats = new Set(ids).size !== ids.length;
          if (repeats) expect(() => validateWrites(writes)).toThrow('appears more than once');
          else expect(() => validateWrites(writes)).not.toThrow();
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('validateWrites: text no store can hold', () => {
  const write = (data: unknown): StreamWrite[] => [
    { streamId: streamId('s'), expected: ExpectedVersion.any, events: [testEvent('E', data)] },
  ];

  it('accepts paired surrogates and text that only spells an escape', () => {
    expect(() =>
      validateWrites(write({ emoji: '🚀 👩‍👩‍👧‍👦 𝄞', escaped: '\\u0000 \\ud800', ['𝄞']: '' })),
    ).not.toThrow();
  });

  it('finds a NUL character 10,000 levels deep without overflowing the stack', () => {
    let data: unknown = 'deep \u0000';
    for (let i = 0; i < 10_000; i++) data = [data];
    expect(() => validateWrites(write(data))).toThrow(
      expect.objectContaining({ code: 'eventcore.unstorable_text' }),
    );
  });

  it('ends its walk on cyclic data, leaving the cycle to the encoder', () => {
    const data: Record<string, unknown> = { name: 'loop', list: [] };
    data.self = data;
    (data.list as unknown[]).push(data, { back: data });
    expect(() => validateWrites(write(data))).not.toThrow();
    data.tail = '\ud800';
    expect(() => validateWrites(write(data))).toThrow(
      expect.objectContaining({ path: 'data.tail', reason: 'an unpaired UTF-16 surrogate' }),
    );
  });

  it("checks every event's metadata, shared or its own, after a clean event", () => {
    // Metadata shared with the event before is checked once; any other object is checked anew.
    const clean = testEvent('E');
    const shared = { ...testEvent('E'), metadata: clean.metadata };
    const own = testEvent(
      'E',
      {},
      {
        metadata: { ...clean.metadata, custom: { note: 'x \u0000' } },
      },
    );
    const writes = (events: EventToAppend[]): StreamWrite[] => [
      { streamId: streamId('s'), expected: ExpectedVersion.any, events },
    ];
    expect(() => validateWrites(writes([clean, shared]))).not.toThrow();
    expect(() => validateWrites(writes([clean, shared, own]))).toThrow(
      expect.objectContaining({ path: 'metadata.custom.note', reason: 'a NUL character' }),
    );
  });
});

describe('validateWrites: tags', () => {
  const inStream = (tags: unknown): StreamWrite[] => [
    {
      streamId: streamId('s'),
      expected: ExpectedVersion.any,
      events: [testEvent('Tagged', {}, { tags: tags as string[] })],
    },
  ];
  const inNoStream = (tags: unknown): AppendOptions => ({
    events: [testEvent('Tagged', {}, { tags: tags as string[] })],
  });
  const refusals = (tags: unknown): unknown[] =>
    [() => validateWrites(inStream(tags)), () => validateWrites([], inNoStream(tags))].map(
      (run) => {
        try {
          run();
        } catch (error) {
          return error;
        }
        return undefined;
      },
    );

  it.each<[string, unknown]>([
    ['none', undefined],
    ['an empty list', []],
    ['valid tags', ['course:c1', 'student:s 1', 'ünï 🚀']],
    ['64 tags', Array.from({ length: 64 }, (_, i) => `t${i}`)],
  ])('accepts %s, in a stream and in no stream', (_label, tags) => {
    expect(refusals(tags)).toEqual([undefined, undefined]);
  });

  it.each<[string, unknown, string]>([
    ['tags that are not an array', 'course:c1', 'has tags that are not an array of strings'],
    ['a tag that is not a string', ['a', 7], 'has an invalid tag (number): it must be a string'],
    ['an empty tag', [''], 'has an invalid tag "": it is empty'],
    ['a padded tag', ['a '], 'has an invalid tag "a ": it has leading or trailing whitespace'],
    ['a control character', ['a\u0000'], 'contains a control character'],
    ['a pattern character', ['a?'], 'reserved for stream patterns'],
    ['a reserved tag', ['$all'], 'starts with "$"'],
    ['a lone surrogate', ['a\ud800'], 'unpaired UTF-16 surrogate'],
    ['a tag of 256 characters', ['x'.repeat(256)], 'more than 255'],
    ['a duplicate tag', ['a', 'b', 'a'], 'has the tag "a" twice'],
    ['65 tags', Array.from({ length: 65 }, (_, i) => `t${i}`), 'has 65 tags, more than 64'],
  ])('refuses %s, naming the event type, in a stream and in no stream', (_label, tags, reason) => {
    const [streamed, unstreamed] = refusals(tags);
    for (const error of [streamed, unstreamed]) {
      expect(error).toBeInstanceOf(InvalidAppendError);
      expect((error as InvalidAppendError).reason).toContain('("Tagged")');
      expect((error as InvalidAppendError).reason).toContain(reason);
    }
    expect((streamed as InvalidAppendError).reason).toContain('for stream "s"');
    expect((unstreamed as InvalidAppendError).reason).toContain('in no stream');
  });
});

describe('validateWrites: options and events in no stream', () => {
  const write: StreamWrite = {
    streamId: streamId('s'),
    expected: ExpectedVersion.any,
    events: [testEvent('E')],
  };
  const refusal = (run: () => void): unknown => {
    try {
      run();
    } catch (error) {
      return error;
    }
    throw new Error('expected a refusal');
  };

  it('accepts events in no stream alone, beside stream writes, and with a condition', () => {
    expect(() => validateWrites([], { events: [testEvent('A')] })).not.toThrow();
    expect(() => validateWrites([write], { events: [testEvent('A')] })).not.toThrow();
    expect(() =>
      validateWrites([], {
        events: [testEvent('A')],
        condition: { failIfEventsMatch: { items: [{ tags: ['t'] }] }, after: 3 },
      }),
    ).not.toThrow();
    expect(() =>
      validateWrites([write], { condition: { failIfEventsMatch: ALL_EVENTS } }),
    ).not.toThrow();
  });

  it('refuses an append with neither a stream write nor an event in no stream', () => {
    for (const options of [
      undefined,
      {},
      { events: [] },
      { condition: { failIfEventsMatch: ALL_EVENTS } },
    ]) {
      expect(refusal(() => validateWrites([], options))).toMatchObject({
        code: ErrorCodes.invalidAppend,
        reason: expect.stringContaining('at least one stream write or one event in no stream'),
      });
    }
  });

  it('refuses malformed options', () => {
    expect(refusal(() => validateWrites([write], null as unknown as AppendOptions))).toMatchObject({
      reason: 'the append options must be an object',
    });
    expect(
      refusal(() => validateWrites([write], { conditon: {} } as unknown as AppendOptions)),
    ).toMatchObject({ reason: expect.stringContaining('unknown key "conditon"') });
    expect(
      refusal(() => validateWrites([], { events: testEvent('A') } as unknown as AppendOptions)),
    ).toMatchObject({ reason: expect.stringContaining('options.events') });
  });

  it('refuses a malformed condition with InvalidQueryError', () => {
    const error = refusal(() =>
      validateWrites([write], {
        condition: { failIfEventsMatch: ALL_EVENTS, after: -1 },
      }),
    );
    expect(error).toBeInstanceOf(InvalidQueryError);
    expect((error as InvalidQueryError).reason).toContain('condition.after');
  });

  it('checks events in no stream like stream events, naming them as in no stream', () => {
    const bad = { ...testEvent('A'), occurredAt: 'yesterday' };
    expect(refusal(() => validateWrites([], { events: [bad] }))).toMatchObject({
      reason: `event ${bad.id} in no stream needs occurredAt as Date#toISOString() gives it (YYYY-MM-DDTHH:mm:ss.sssZ)`,
    });
    const nul = testEvent('A', { note: 'a\u0000' });
    expect(refusal(() => validateWrites([], { events: [nul] }))).toMatchObject({
      code: ErrorCodes.unstorableText,
      streamId: `$event-${nul.id}`,
      path: 'data.note',
    });
  });

  it('refuses an event id given twice across stream writes and events in no stream', () => {
    const event = testEvent('A');
    expect(
      refusal(() => validateWrites([{ ...write, events: [event] }], { events: [event] })),
    ).toMatchObject({
      reason: expect.stringContaining('appears more than once'),
    });
    const [first, second] = [testEvent('A'), testEvent('B')];
    expect(refusal(() => validateWrites([], { events: [second, first, second] }))).toMatchObject({
      reason: expect.stringContaining(`event id ${second.id} appears more than once`),
    });
  });

  it('refuses a stream write to a stream id reserved for events in no stream', () => {
    expect(
      refusal(() =>
        validateWrites([{ ...write, streamId: `$event-${write.events[0]!.id}` as StreamId }]),
      ),
    ).toMatchObject({ reason: expect.stringContaining('is reserved for events in no stream') });
    expect(() =>
      validateWrites([{ ...write, streamId: '$idempotency-x' as StreamId }]),
    ).not.toThrow();
  });
});
