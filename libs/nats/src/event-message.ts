import type { RecordedEvent } from '@eventcore/core';
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import { percentEscape, unescapeSubjectToken } from './subject';

/**
 * Header names of a forwarded event. Free-text values (stream id, type, correlation and causation
 * ids, user id) are escaped like subject tokens, since a header value cannot hold a line break and
 * loses surrounding spaces; {@link ForwardedEvent} gives them back unescaped.
 */
export const EventHeaders = {
  eventId: 'EventCore-Event-Id',
  type: 'EventCore-Event-Type',
  streamId: 'EventCore-Stream-Id',
  streamVersion: 'EventCore-Stream-Version',
  globalPosition: 'EventCore-Global-Position',
  schemaVersion: 'EventCore-Schema-Version',
  correlationId: 'EventCore-Correlation-Id',
  causationId: 'EventCore-Causation-Id',
  userId: 'EventCore-User-Id',
  tenant: 'EventCore-Tenant',
  occurredAt: 'EventCore-Occurred-At',
  recordedAt: 'EventCore-Recorded-At',
} as const;

/** An event as a JetStream consumer receives it from the forwarder. */
export interface ForwardedEvent<Data = unknown> {
  /** The event id (UUIDv7), also the JetStream message id. */
  readonly id: string;
  readonly type: string;
  readonly streamId: string;
  /** 1-based position of the event in its stream. */
  readonly streamVersion: number;
  /** Position in the source store's log; increases in the order the forwarder publishes. */
  readonly globalPosition: number;
  /** Version of the data's schema (the forwarder publishes events upcast to the current one). */
  readonly schemaVersion: number;
  readonly correlationId: string;
  readonly causationId: string;
  readonly userId: string | null;
  /** The tenant token of the subject, unescaped. */
  readonly tenant: string;
  /** ISO-8601 time of the decision, from the writer's clock. */
  readonly occurredAt: string;
  /** ISO-8601 time at which the source store recorded the event. */
  readonly recordedAt: string;
  /** The event's data, parsed from the message body (JSON). */
  readonly data: Data;
  /** The subject the message was published on. */
  readonly subject: string;
  /** The JetStream stream's sequence number of the message. */
  readonly streamSequence: number;
}

/** Headers and body of the message for one event. Throws when `data` cannot be JSON (e.g. a BigInt). */
export function toMessage(
  event: RecordedEvent,
  tenant: string,
): { headers: MsgHdrs; body: Uint8Array } {
  const h = natsHeaders();
  h.set(EventHeaders.eventId, event.id);
  h.set(EventHeaders.type, percentEscape(event.type));
  h.set(EventHeaders.streamId, percentEscape(event.streamId));
  h.set(EventHeaders.streamVersion, String(event.streamVersion));
  h.set(EventHeaders.globalPosition, String(event.globalPosition));
  h.set(EventHeaders.schemaVersion, String(event.schemaVersion));
  h.set(EventHeaders.correlationId, percentEscape(event.metadata.correlationId));
  h.set(EventHeaders.causationId, percentEscape(event.metadata.causationId));
  if (event.metadata.userId !== null)
    h.set(EventHeaders.userId, percentEscape(event.metadata.userId));
  h.set(EventHeaders.tenant, percentEscape(tenant));
  h.set(EventHeaders.occurredAt, event.occurredAt);
  h.set(EventHeaders.recordedAt, event.recordedAt);
  h.set('Content-Type', 'application/json');
  // `undefined` data has no JSON text; `null` says the same and parses back.
  const body = new TextEncoder().encode(JSON.stringify(event.data ?? null));
  return { headers: h, body };
}

/** What {@link fromMessage} reads from a JetStream message. */
export interface ReceivedMessage {
  readonly subject: string;
  readonly headers?: MsgHdrs;
  readonly data: Uint8Array;
  readonly seq: number;
}

/**
 * Reads a forwarded event back from its message.
 * @throws Error naming the subject and sequence when a header is missing or the body is not JSON.
 */
export function fromMessage<Data = unknown>(msg: ReceivedMessage): ForwardedEvent<Data> {
  const where = `message ${msg.seq} on ${msg.subject}`;
  const get = (name: string, optional = false): string => {
    const value = msg.headers?.get(name) ?? '';
    if (value === '' && !optional) {
      throw new Error(
        `${where} has no ${name} header: it was not published by the EventCore forwarder`,
      );
    }
    return value;
  };
  const text = (name: string) => unescapeSubjectToken(get(name));
  const userId = get(EventHeaders.userId, true);
  let data: Data;
  try {
    data = JSON.parse(new TextDecoder().decode(msg.data)) as Data;
  } catch (error) {
    throw new Error(`${where} has a body that is not JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return {
    id: get(EventHeaders.eventId),
    type: text(EventHeaders.type),
    streamId: text(EventHeaders.streamId),
    streamVersion: Number(get(EventHeaders.streamVersion)),
    globalPosition: Number(get(EventHeaders.globalPosition)),
    schemaVersion: Number(get(EventHeaders.schemaVersion)),
    correlationId: text(EventHeaders.correlationId),
    causationId: text(EventHeaders.causationId),
    userId: userId === '' ? null : unescapeSubjectToken(userId),
    tenant: text(EventHeaders.tenant),
    occurredAt: get(EventHeaders.occurredAt),
    recordedAt: get(EventHeaders.recordedAt),
    data,
    subject: msg.subject,
    streamSequence: msg.seq,
  };
}
