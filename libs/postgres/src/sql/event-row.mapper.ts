import type { EventMetadata, RecordedEvent, StreamId } from '@eventcore/core';

/** An event row as selected by the read statements (see `read.sql.ts`). */
export interface EventRow {
  readonly p: string | number;
  /** The writing transaction's id: `readAll` sends it on a page's last row only. */
  readonly x?: string | null;
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
  /** DCB tags; NULL when the event has none. */
  readonly tg: string[] | null;
}

const NO_TAGS: readonly string[] = Object.freeze([]);

/** Builds the frozen record; two literal shapes (with and without `encoding`) keep reads monomorphic. */
function recordedEvent(
  row: Pick<EventRow, 'p' | 'i' | 'v' | 'd' | 'en' | 'tg'>,
  streamId: StreamId,
  type: string,
  schemaVersion: number,
  metadata: EventMetadata,
  occurredAt: string,
  recordedAt: string,
): RecordedEvent {
  const tags = row.tg === null ? NO_TAGS : Object.freeze(row.tg);
  if (row.en !== null) {
    return Object.freeze({
      id: row.i,
      streamId,
      streamVersion: Number(row.v),
      globalPosition: Number(row.p),
      tags,
      type,
      data: row.d,
      schemaVersion,
      encoding: row.en,
      metadata,
      occurredAt,
      recordedAt,
    });
  }
  return Object.freeze({
    id: row.i,
    streamId,
    streamVersion: Number(row.v),
    globalPosition: Number(row.p),
    tags,
    type,
    data: row.d,
    schemaVersion,
    metadata,
    occurredAt,
    recordedAt,
  });
}

/** A row of the read statements: NULL stream, type, schema version, metadata and times mean "as the previous row". */
export type DedupedEventRow = Omit<EventRow, 's' | 't' | 'sv' | 'm' | 'o' | 'r'> & {
  readonly s: string | null;
  readonly t: string | null;
  readonly sv: number | null;
  readonly m: EventMetadata | null;
  readonly o: string | null;
  readonly r: string | null;
};

/**
 * Maps the rows of the read statements, where the stream, type, schema version, metadata,
 * occurred-at and recorded-at are NULL when equal to the previous row's: the previous value is
 * reused (fewer strings to build and collect on a long read). Events that share metadata share one
 * (deeply frozen) metadata object, parsed once.
 */
export class RowDecoder {
  private streamId = '' as StreamId;
  private type = '';
  private schemaVersion = 1;
  private metadata: EventMetadata | undefined;
  private occurredAt = '';
  private recordedAt = '';

  decode(row: DedupedEventRow): RecordedEvent {
    if (row.s !== null) this.streamId = row.s as StreamId;
    if (row.t !== null) this.type = row.t;
    if (row.sv !== null) this.schemaVersion = row.sv;
    if (row.m !== null) this.metadata = deepFreeze(row.m);
    if (row.o !== null) this.occurredAt = row.o;
    if (row.r !== null) this.recordedAt = row.r;
    return recordedEvent(
      row,
      this.streamId,
      this.type,
      this.schemaVersion,
      this.metadata!,
      this.occurredAt,
      this.recordedAt,
    );
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
