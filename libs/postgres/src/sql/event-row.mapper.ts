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
  /** A binary encoding (then `d` is the base64 of the bytes); NULL for JSON. */
  readonly en: string | null;
  readonly m: EventMetadata;
  readonly o: string;
  readonly r: string;
}

/** Builds the frozen record; two literal shapes (with and without `encoding`) keep reads monomorphic. */
function recordedEvent(
  row: Omit<EventRow, 'm' | 'o' | 'r'>,
  metadata: EventMetadata,
  occurredAt: string,
  recordedAt: string,
): RecordedEvent {
  if (row.en !== null) {
    return Object.freeze({
      id: row.i,
      streamId: row.s as StreamId,
      streamVersion: Number(row.v),
      globalPosition: Number(row.p),
      type: row.t,
      data: row.d,
      schemaVersion: row.sv,
      encoding: row.en,
      metadata,
      occurredAt,
      recordedAt,
    });
  }
  return Object.freeze({
    id: row.i,
    streamId: row.s as StreamId,
    streamVersion: Number(row.v),
    globalPosition: Number(row.p),
    type: row.t,
    data: row.d,
    schemaVersion: row.sv,
    metadata,
    occurredAt,
    recordedAt,
  });
}

/** A row of `readStreamsSql`: NULL metadata and times mean "as the previous row". */
export type DedupedEventRow = Omit<EventRow, 'm' | 'o' | 'r'> & {
  readonly m: EventMetadata | null;
  readonly o: string | null;
  readonly r: string | null;
};

/**
 * Maps the rows of `readStreamsSql`, where metadata, occurred-at and recorded-at are NULL when equal
 * to the previous row's: the previous value is reused. Events that share metadata share one
 * (deeply frozen) metadata object, parsed once.
 */
export class RowDecoder {
  private metadata: EventMetadata | undefined;
  private occurredAt = '';
  private recordedAt = '';

  decode(row: DedupedEventRow): RecordedEvent {
    if (row.m !== null) this.metadata = deepFreeze(row.m);
    if (row.o !== null) this.occurredAt = row.o;
    if (row.r !== null) this.recordedAt = row.r;
    return recordedEvent(row, this.metadata!, this.occurredAt, this.recordedAt);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
