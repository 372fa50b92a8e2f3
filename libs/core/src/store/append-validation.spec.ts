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
