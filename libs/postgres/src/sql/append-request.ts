import {
  EventSerializationError,
  InvalidAppendError,
  type EventMetadata,
  type StreamWrite,
} from '@eventcore/core';
import { JSON_ENCODING, encodeJson } from '@eventcore/core/adapter';

/** An append, encoded once into the parameters of the append function (`append_events_v4`). */
export interface AppendRequest {
  /** Every parameter but the last (`p_notify`), which the caller adds. */
  readonly params: readonly unknown[];
  /** Per event, in order: the parts the store echoes back without a read. */
  readonly events: readonly EncodedEvent[];
  /** The number of stream writes (the length of the first parameters). */
  readonly writeCount: number;
}

export interface EncodedEvent {
  readonly writeIndex: number;
  readonly id: string;
  readonly type: string;
  readonly schemaVersion: number;
  /** JSON text of the data, or for a binary {@link encoding} the base64 of its bytes as given. */
  readonly data: string;
  /** A binary encoding's name; undefined for JSON. */
  readonly encoding: string | undefined;
  readonly metadata: Omit<EventMetadata, 'custom'>;
  readonly customJson: string;
  readonly occurredAt: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_INT4 = 2_147_483_647;
// In JSON.stringify output, `\u0000` and `\udXXX` escapes (lone surrogates) that are not
// themselves escaped: jsonb cannot store either.
const JSONB_UNSUPPORTED = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;
// Raw text parameters: NUL and lone surrogates cannot travel as UTF-8 text.
const TEXT_UNSUPPORTED =
  // eslint-disable-next-line no-control-regex
  /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Encodes an already validated append (see `validateWrites`) as the parallel arrays of the append
 * function: every event's data and custom metadata is serialised exactly once, and the server
 * parses each document once. Refuses what PostgreSQL cannot store faithfully before anything is sent.
 * @throws EventSerializationError, InvalidAppendError
 */
export function encodeAppend(writes: readonly StreamWrite[]): AppendRequest {
  const streamIds: string[] = [];
  const kinds: string[] = [];
  const versions: (number | null)[] = [];
  const counts: number[] = [];
  const events: EncodedEvent[] = [];
  const writeIndexes: number[] = [];
  const offsets: number[] = [];
  const ids: string[] = [];
  const types: string[] = [];
  const schemaVersions: number[] = [];
  const data: (string | null)[] = [];
  const metadata: string[] = [];
  const occurredAt: string[] = [];
  // Only for appends with a binary event (NULL parameters otherwise): per event, its encoding and
  // base64 bytes, NULL for JSON events.
  let encodings: (string | null)[] | null = null;
  let bytes: (string | null)[] | null = null;
  for (let w = 0; w < writes.length; w++) {
    const write = writes[w]!;
    streamIds.push(write.streamId);
    kinds.push(write.expected.kind);
    versions.push(write.expected.kind === 'exact' ? write.expected.version : null);
    counts.push(write.events.length);
    for (let k = 0; k < write.events.length; k++) {
      const event = write.events[k]!;
      const encoded = encodeEvent(write.streamId, w, event);
      events.push(encoded);
      const m = encoded.metadata;
      writeIndexes.push(w + 1);
      offsets.push(k + 1);
      ids.push(encoded.id);
      types.push(encoded.type);
      schemaVersions.push(encoded.schemaVersion);
      if (encoded.encoding === undefined) {
        data.push(encoded.data);
        encodings?.push(null);
        bytes?.push(null);
      } else {
        if (encodings === null || bytes === null) {
          encodings = new Array<string | null>(data.length).fill(null);
          bytes = new Array<string | null>(data.length).fill(null);
        }
        data.push(null);
        encodings.push(encoded.encoding);
        bytes.push(encoded.data);
      }
      metadata.push(
        `{"correlationId":${JSON.stringify(m.correlationId)},"causationId":${JSON.stringify(m.causationId)},` +
          `"userId":${JSON.stringify(m.userId)},"custom":${encoded.customJson}}`,
      );
      occurredAt.push(encoded.occurredAt);
    }
  }
  return {
    params: [
      streamIds,
      kinds,
      versions,
      counts,
      writeIndexes,
      offsets,
      ids,
      types,
      schemaVersions,
      data,
      metadata,
      occurredAt,
      encodings,
      bytes,
    ],
    events,
    writeCount: writes.length,
  };
}

function encodeEvent(
  streamId: string,
  writeIndex: number,
  event: StreamWrite['events'][number],
): EncodedEvent {
  if (!UUID.test(event.id)) {
    throw new InvalidAppendError(
      `event id ${JSON.stringify(event.id)} of stream "${streamId}" is not a UUID (use newEventId())`,
    );
  }
  const schemaVersion = event.schemaVersion ?? 1;
  if (schemaVersion > MAX_INT4) {
    throw new InvalidAppendError(
      `event ${event.id} of stream "${streamId}" has schemaVersion ${schemaVersion}, above ${MAX_INT4}`,
    );
  }
  const metadata = {
    correlationId: event.metadata.correlationId,
    causationId: event.metadata.causationId,
    userId: event.metadata.userId ?? null,
  };
  for (const [what, text] of [
    ['stream id', streamId],
    ['type', event.type],
    ['correlationId', metadata.correlationId],
    ['causationId', metadata.causationId],
    ['userId', metadata.userId ?? ''],
  ] as const) {
    if (typeof text !== 'string' || TEXT_UNSUPPORTED.test(text)) {
      throw new InvalidAppendError(
        `the ${what} of event ${event.id} in stream "${streamId}" is not a string of valid Unicode without NUL characters`,
      );
    }
  }
  // `validateWrites` checked that binary data is base64 text (also free of NUL characters).
  const encoding =
    event.encoding === undefined || event.encoding === JSON_ENCODING ? undefined : event.encoding;
  const data =
    encoding === undefined
      ? storable(streamId, event.type, encodeJson(streamId, event.type, event.data))
      : (event.data as string);
  const customJson = storable(
    streamId,
    event.type,
    encodeJson(streamId, event.type, event.metadata.custom ?? {}),
  );
  return {
    writeIndex,
    id: event.id.toLowerCase(),
    type: event.type,
    schemaVersion,
    data,
    encoding,
    metadata,
    customJson,
    occurredAt: event.occurredAt,
  };
}

function storable(streamId: string, type: string, json: string): string {
  if (json.includes('\\u') && JSONB_UNSUPPORTED.test(json)) {
    throw new EventSerializationError(
      streamId,
      type,
      'PostgreSQL jsonb cannot store the NUL character (\\u0000) or unpaired UTF-16 surrogates',
    );
  }
  return json;
}
