import { checkUpcasters } from '@eventcore/core/testing';
import { ErrorCodes, EventDecodeError } from '../errors';
import { streamId } from '../store/stream-id';
import type { RecordedEvent } from './event';
import { EventTypeRegistry } from './event-type-registry';

const stored = (type: string, schemaVersion: number, data: unknown): RecordedEvent =>
  Object.freeze({
    id: 'event-1',
    streamId: streamId('account-1'),
    streamVersion: 1,
    globalPosition: 1,
    tags: [],
    type,
    data,
    schemaVersion,
    metadata: { correlationId: 'c', causationId: 'c', userId: null, custom: {} },
    occurredAt: '2030-01-01T00:00:00.000Z',
    recordedAt: '2030-01-01T00:00:00.000Z',
  });

/** MoneyDeposited: v1 { amount } in units → v2 { cents } → v3 { cents, currency }. */
const registry = () =>
  new EventTypeRegistry([
    {
      type: 'MoneyDeposited',
      version: 3,
      upcasters: {
        1: (data) => ({ cents: (data as { amount: number }).amount * 100 }),
        2: (data) => ({ ...(data as object), currency: 'EUR' }),
      },
    },
  ]);

describe('EventTypeRegistry', () => {
  it('chains upcasters from any old version to the current one', () => {
    const v1 = registry().upcast(stored('MoneyDeposited', 1, { amount: 5 }));
    expect(v1).toMatchObject({
      schemaVersion: 3,
      data: { cents: 500, currency: 'EUR' },
      id: 'event-1',
    });
    expect(Object.isFrozen(v1)).toBe(true);
    expect(registry().upcast(stored('MoneyDeposited', 2, { cents: 7 })).data).toEqual({
      cents: 7,
      currency: 'EUR',
    });
  });

  it('returns a current event itself, without copying, and leaves unregistered types alone', () => {
    const current = stored('MoneyDeposited', 3, { cents: 1, currency: 'EUR' });
    expect(registry().upcast(current)).toBe(current);
    const other = stored('AccountOpened', 1, {});
    expect(registry().upcast(other)).toBe(other);
    expect(registry().currentVersion('MoneyDeposited')).toBe(3);
    expect(registry().currentVersion('AccountOpened')).toBe(1);
  });

  it('names the event when an upcaster throws', () => {
    const failing = new EventTypeRegistry([
      {
        type: 'T',
        version: 2,
        upcasters: {
          1: () => {
            throw new Error('bad shape');
          },
        },
      },
    ]);
    const decode = () => failing.upcast(stored('T', 1, {}));
    expect(decode).toThrow(EventDecodeError);
    expect(decode).toThrow(
      /Event event-1 of stream "account-1" \(type "T", stored schema version 1\).*bad shape/,
    );
  });

  it('refuses a stored version newer than the code, and versions without an upcaster', () => {
    expect(() => registry().upcast(stored('MoneyDeposited', 4, {}))).toThrow(
      expect.objectContaining({
        code: ErrorCodes.eventDecode,
        storedVersion: 4,
        eventType: 'MoneyDeposited',
      }),
    );
    expect(() => registry().upcast(stored('MoneyDeposited', 0, {}))).toThrow(
      /no upcaster from version 0/,
    );
  });

  it('refuses a registration with a gap in the chain, a bad version or a duplicate', () => {
    expect(
      () => new EventTypeRegistry([{ type: 'T', version: 3, upcasters: { 1: (d) => d } }]),
    ).toThrow(/upcaster from version 2 to 3 is missing/);
    expect(() => new EventTypeRegistry([{ type: 'T', version: 0 }])).toThrow(
      /version must be an integer/,
    );
    expect(() => new EventTypeRegistry([{ type: 'T' }, { type: 'T' }])).toThrow(/registered twice/);
  });

  it('checkUpcasters asserts stored samples of every old version', () => {
    checkUpcasters(registry(), [
      {
        type: 'MoneyDeposited',
        storedVersion: 1,
        data: { amount: 2 },
        expected: { cents: 200, currency: 'EUR' },
      },
      {
        type: 'MoneyDeposited',
        storedVersion: 2,
        data: { cents: 3 },
        expected: { cents: 3, currency: 'EUR' },
      },
    ]);
    expect(() =>
      checkUpcasters(registry(), [
        { type: 'MoneyDeposited', storedVersion: 1, data: { amount: 2 }, expected: { cents: 2 } },
      ]),
    ).toThrow(/MoneyDeposited v1 did not upcast to the expected v3 shape/);
  });
});
