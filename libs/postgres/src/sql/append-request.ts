import {
  EventSerializationError,
  InvalidAppendError,
  type EventMetadata,
  type EventToAppend,
  type StreamWrite,
} from '@eventcore/core';
import { streamOfUnstreamedEvent } from '@eventcore/core/adapter';
import { JSON_ENCODING, encodeJson } from '@eventcore/core/adapter';

/**
 * An append, encoded once into the parameters of the append functions (`append_batch_v8`, and the
 * first ones of `append_dcb_v8`).
 */
export interface AppendRequest {
  /** The event parameters, up to `p_tag_counts`; the caller adds the rest. */
  readonly params: readonly unknown[];
  /** Per event, in order: the parts the store echoes back without a read. */
  readonly events: readonly EncodedEvent[];
  /** The number of stream writes (the length of the first parameters). */
  readonly writeCount: number;
}

export interface EncodedEvent {
  /** Its write in the request; -1 for an event in no stream. */
  readonly writeIndex: number;
  /** Its stream: the write's, or `$event-<id>` for an event in no stream. */
  readonly streamId: string;
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
  /** Frozen, as the recorded event carries them. */
  readonly tags: readonly string[];
}

const NO_TAGS: readonly string[] = Object.freeze([]);

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
 * `unstreamed` (events in no stream) come after the stream writes' events, with write index 0.
 * Tags travel flattened (`p_tags`, and per event `p_tag_counts`), both NULL when no event has one.
 * @throws EventSerializationError, InvalidAppendError
 */
export function encodeAppend(
  writes: readonly StreamWrite[],
  unstreamed: readonly EventToAppend[] = [],
): AppendRequest {
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
  // Only for appends with a tagged event (NULL parameters otherwise).
  let tags: string[] | null = null;
  let tagCounts: number[] | null = null;
  for (const write of writes) {
    streamIds.push(write.streamId);
    kinds.push(write.expected.kind);
    versions.push(write.expected.kind === 'exact' ? write.expected.version : null);
    counts.push(write.events.length);
  }
  // The stream writes' events, then (as write -1) the events in no stream.
  const groups = unstreamed.length > 0 ? writes.length + 1 : writes.length;
  for (let w = 0; w < groups; w++) {
    const write = writes[w];
    const list = write?.events ?? unstreamed;
    for (let k = 0; k < list.length; k++) {
      const event = list[k]!;
      const streamId = write?.streamId ?? streamOfUnstreamedEvent(String(event.id).toLowerCase());
      const encoded = encodeEvent(streamId, write === undefined ? -1 : w, event);
      events.push(encoded);
      const m = encoded.metadata;
      writeIndexes.push(write === undefined ? 0 : w + 1);
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
      if (encoded.tags.length > 0 && (tags === null || tagCounts === null)) {
        tags = [];
        tagCounts = new Array<number>(ids.length - 1).fill(0);
      }
      if (tags !== null && tagCounts !== null) {
        for (const tag of encoded.tags) tags.push(tag);
        tagCounts.push(encoded.tags.length);
      }
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
      tags,
      tagCounts,
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
    streamId,
    id: event.id.toLowerCase(),
    type: event.type,
    schemaVersion,
    data,
    encoding,
    metadata,
    customJson,
    occurredAt: event.occurredAt,
    tags:
      event.tags === undefined || event.tags.length === 0
        ? NO_TAGS
        : Object.freeze([...event.tags]),
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
