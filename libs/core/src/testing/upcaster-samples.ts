import { deepStrictEqual } from 'node:assert/strict';
import type { EventTypeRegistry } from '../events/event-type-registry';
import type { RecordedEvent } from '../events/event';
import { streamId } from '../store/stream-id';

/** A stored sample of an old event version and the current shape it must upcast to. */
export interface UpcasterSample {
  readonly type: string;
  readonly storedVersion: number;
  readonly data: unknown;
  readonly expected: unknown;
}

/**
 * Upcasts every sample through `registry` and asserts the current shape (Node's AssertionError on
 * a mismatch; EventDecodeError when a step is missing or throws). Keep one sample per old version
 * of every type, taken from real stored data.
 */
export function checkUpcasters(
  registry: EventTypeRegistry,
  samples: readonly UpcasterSample[],
): void {
  for (const [index, sample] of samples.entries()) {
    const event: RecordedEvent = {
      id: `sample-${index}`,
      streamId: streamId('upcaster-sample'),
      streamVersion: 1,
      globalPosition: index + 1,
      tags: [],
      type: sample.type,
      data: sample.data,
      schemaVersion: sample.storedVersion,
      metadata: { correlationId: 'sample', causationId: 'sample', userId: null, custom: {} },
      occurredAt: '2000-01-01T00:00:00.000Z',
      recordedAt: '2000-01-01T00:00:00.000Z',
    };
    const upcast = registry.upcast(event);
    deepStrictEqual(
      upcast.data,
      sample.expected,
      `${sample.type} v${sample.storedVersion} did not upcast to the expected v${registry.currentVersion(sample.type)} shape`,
    );
  }
}
