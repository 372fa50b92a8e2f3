import fc from 'fast-check';
import type { RecordedEvent } from '../events/event';
import { newEventId } from '../events/event-id';
import { StoredIds } from './stored-ids';

describe('StoredIds', () => {
  it('answers like a set of every stored id, whatever order ids come in', () => {
    const id = fc.oneof(
      fc.constant('next'), // a fresh UUIDv7: sorts after every earlier one
      fc.constantFrom('a', 'b', 'zz', '0', '01'), // small ids, often repeated
      fc.uuid(),
    );
    fc.assert(
      fc.property(fc.array(id, { maxLength: 60 }), (ids) => {
        const log: RecordedEvent[] = [];
        const stored = new StoredIds(log);
        const reference = new Set<string>();
        for (const given of ids) {
          const value = given === 'next' ? newEventId() : given;
          expect(stored.has(value)).toBe(reference.has(value));
          if (!reference.has(value)) {
            log.push({ id: value } as RecordedEvent);
            stored.add(value);
            reference.add(value);
          }
        }
        for (const value of reference) expect(stored.has(value)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
