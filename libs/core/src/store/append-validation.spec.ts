import fc from 'fast-check';
import { newEventId } from '../events/event-id';
import { testEvent } from '../testing/event-store.contract';
import { validateWrites } from './append-validation';
import type { StreamWrite } from './event-store';
import { ExpectedVersion } from './expected-version';
import { streamId } from './stream-id';

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
});
