import { decode, encode } from '@msgpack/msgpack';

/**
 * Turns event data into bytes and back, for event types that should not be stored as JSON.
 * Register one per event type (`{ type, serializer }`); JSON, stored queryable as jsonb, is the
 * default and needs no serializer.
 */
export interface EventSerializer {
  /** Stable name stored with each event (e.g. `msgpack`); never reuse it for another format. */
  readonly format: string;
  serialize(data: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

/** The JSON encoding name: the default, stored as jsonb by the PostgreSQL store. */
export const JSON_ENCODING = 'json';

/** MessagePack (binary, compact); e.g. for events carrying large numeric arrays. */
export class MessagePackSerializer implements EventSerializer {
  readonly format = 'msgpack';

  serialize(data: unknown): Uint8Array {
    return encode(data);
  }

  deserialize(bytes: Uint8Array): unknown {
    return decode(bytes);
  }
}
