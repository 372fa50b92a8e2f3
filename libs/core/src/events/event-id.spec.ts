import { validate, version } from 'uuid';
import { newEventId } from './event-id';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newEventId', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('yields a UUIDv7: version nibble 7 and the RFC 9562 variant', () => {
    for (let i = 0; i < 100; i++) {
      const id = newEventId();
      expect(id).toMatch(UUID_V7);
      expect(id[14]).toBe('7');
      expect(['8', '9', 'a', 'b']).toContain(id[19]);
      // Cross-checked with the reference implementation's parser.
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
  });

  it('encodes the current time in the first 48 bits', () => {
    const before = Date.now();
    const id = newEventId();
    const after = Date.now();
    const millis = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(millis).toBeGreaterThanOrEqual(before);
    expect(millis).toBeLessThanOrEqual(after + 1);
  });

  it('is strictly increasing over 10,000 ids made in a tight loop', () => {
    const ids = Array.from({ length: 10_000 }, () => newEventId());
    for (let i = 1; i < ids.length; i++) {
      if (!(ids[i - 1]! < ids[i]!)) {
        throw new Error(`id ${i} (${ids[i]}) does not sort after id ${i - 1} (${ids[i - 1]})`);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stays increasing when the clock steps back', () => {
    const first = newEventId();
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() - 60_000);
    const second = newEventId();
    const third = newEventId();
    expect(first < second).toBe(true);
    expect(second < third).toBe(true);
  });
});
