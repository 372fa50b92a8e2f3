import fc from 'fast-check';
import type { EventMetadata, EventToAppend } from '../events/event';
import { type StreamId, streamIdProblem } from '../store/stream-id';

/** Valid stream ids: printable text (unicode included) of 1–255 characters, none reserved. */
export const streamIdArbitrary = (): fc.Arbitrary<StreamId> =>
  fc
    .string({ minLength: 1, maxLength: 60, unit: 'grapheme' })
    .map((s) => s.trim())
    .filter((s) => streamIdProblem(s) === undefined) as fc.Arbitrary<StreamId>;

/** JSON values as stored in event data and custom metadata. */
export const jsonDataArbitrary = (): fc.Arbitrary<Record<string, unknown>> =>
  fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }).map(
    // JSON.parse(JSON.stringify(...)) normalises -0 and drops what JSON cannot keep.
    (value) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>,
  );

/** Event metadata with optional user id and custom fields. */
export const metadataArbitrary = (): fc.Arbitrary<EventMetadata> =>
  fc.record({
    correlationId: fc.uuid(),
    causationId: fc.uuid(),
    userId: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: null }),
    custom: jsonDataArbitrary(),
  });

/** Events ready to append, with unique UUID ids. */
export const eventToAppendArbitrary = (): fc.Arbitrary<EventToAppend> =>
  fc.record({
    id: fc.uuid({ version: 7 }),
    type: fc.constantFrom('Opened', 'Deposited', 'Withdrawn', 'Closed', 'Ünïcødé ✓'),
    data: jsonDataArbitrary(),
    metadata: metadataArbitrary(),
    occurredAt: fc
      .date({
        min: new Date('2000-01-01T00:00:00.000Z'),
        max: new Date('2100-01-01T00:00:00.000Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString()),
  });
