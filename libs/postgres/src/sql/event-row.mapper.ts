import type { EventMetadata, RecordedEvent, StreamId } from '@eventcore/core';

/** An event row as selected by the read statements (see `read.sql.ts`). */
export interface EventRow {
  readonly p: string | number;
  readonly x: string;
  readonly i: string;
  readonly s: string;
  readonly v: string | number;
  readonly t: string;
  readonly sv: number;
  readonly d: unknown;
  readonly m: EventMetadata;
  readonly o: string;
  readonly r: string;
}

/**
 * Turns a row into a {@link RecordedEvent}. The record is frozen (its data is a fresh copy per read,
 * so nobody else can see a change to it, but the record itself is the store's statement of fact).
 */
export function toRecordedEvent(row: EventRow): RecordedEvent {
  return Object.freeze({
    id: row.i,
    streamId: row.s as StreamId,
    streamVersion: Number(row.v),
    globalPosition: Number(row.p),
    type: row.t,
    data: row.d,
    schemaVersion: row.sv,
    metadata: row.m,
    occurredAt: row.o,
    recordedAt: row.r,
  });
}
