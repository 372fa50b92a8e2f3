import {
  type EventStoreInspection,
  type FindStreamsOptions,
  InvalidOptionsError,
  type LogHead,
  type OldestWriteTransaction,
  type RecordedEvent,
  type StreamId,
  type StreamSummary,
} from '@eventcore/core';
import type { SqlExecutor } from '../executor/sql-executor';
import type { PostgresEventStore } from '../postgres.event-store';
import type { PostgresProjectionTx } from '../projection/postgres.checkpoint-store';
import { checkSchemaName } from '../schema/schema-name';
import {
  correlatedEventsSql,
  findStreamsSql,
  headSql,
  removeDeadLetterSql,
  streamOfEventSql,
} from './inspection.sql';
import { readOldestWriteTransaction } from './log-hold-back';

/** Options of {@link PostgresStoreInspection}. */
export interface PostgresStoreInspectionOptions {
  /** Schema of the checkpoint store's tables (its dead letters). @default the event store's schema */
  readonly checkpointSchema?: string;
}

const MAX_LIMIT = 1_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * {@link EventStoreInspection} of a PostgreSQL (or PGlite) event store, on the store's own
 * connections: indexed lookups on its tables, `pg_stat_activity` for what holds subscribers back.
 * Events are read back through the store (`readStreams`), so they are decoded exactly as commands
 * and projections see them. Dead letters are removed in the checkpoint store's transaction when
 * one is given. Needs no schema change.
 *
 * To see other sessions' transactions the store's role needs `pg_monitor` (or
 * `pg_read_all_stats`); without it {@link oldestWriteTransaction} answers "unknown".
 */
export class PostgresStoreInspection implements EventStoreInspection<PostgresProjectionTx> {
  private readonly executor: SqlExecutor;
  private readonly sql: {
    findStreams: string;
    streamOfEvent: string;
    correlated: string;
    head: string;
    removeDeadLetter: string;
  };

  constructor(
    private readonly store: PostgresEventStore,
    options: PostgresStoreInspectionOptions = {},
  ) {
    this.executor = store.sqlExecutor;
    const checkpoints = checkSchemaName(options.checkpointSchema ?? store.schema);
    this.sql = {
      findStreams: findStreamsSql(store.schema),
      streamOfEvent: streamOfEventSql(store.schema),
      correlated: correlatedEventsSql(store.schema),
      head: headSql(store.schema),
      removeDeadLetter: removeDeadLetterSql(checkpoints),
    };
  }

  async findStreams(
    prefix: string,
    options: FindStreamsOptions = {},
  ): Promise<readonly StreamSummary[]> {
    const rows = await this.executor.query<{ stream_id: string; version: string | number }>(
      this.sql.findStreams,
      [prefix, options.after ?? null, limitOf(options.limit, 50)],
    );
    return rows.map((row) => ({
      streamId: row.stream_id as StreamId,
      version: Number(row.version),
    }));
  }

  async findEvent(eventId: string): Promise<RecordedEvent | undefined> {
    // Not a uuid, so not an id this store holds (and the cast would fail the statement).
    if (!UUID.test(eventId)) return undefined;
    const [row] = await this.executor.query<{ stream_id: string }>(this.sql.streamOfEvent, [
      eventId,
    ]);
    if (row === undefined) return undefined;
    const { events } = await this.store.readStreams([row.stream_id as StreamId]);
    return events.find((event) => event.id.toLowerCase() === eventId.toLowerCase());
  }

  async eventsByCorrelationId(
    correlationId: string,
    options: { readonly limit?: number } = {},
  ): Promise<readonly RecordedEvent[]> {
    const rows = await this.executor.query<{ event_id: string; stream_id: string }>(
      this.sql.correlated,
      [correlationId, limitOf(options.limit, MAX_LIMIT)],
    );
    if (rows.length === 0) return [];
    const ids = new Set(rows.map((row) => row.event_id));
    const streams = [...new Set(rows.map((row) => row.stream_id as StreamId))];
    const { events } = await this.store.readStreams(streams);
    return events.filter((event) => ids.has(event.id));
  }

  async head(): Promise<LogHead> {
    const [row] = await this.executor.query<{
      global_position: string | number;
      recorded_at: string;
    }>(this.sql.head);
    return row === undefined
      ? { globalPosition: 0, recordedAt: null }
      : { globalPosition: Number(row.global_position), recordedAt: row.recorded_at };
  }

  oldestWriteTransaction(): Promise<OldestWriteTransaction> {
    return readOldestWriteTransaction(this.executor);
  }

  async removeDeadLetter(
    projection: string,
    eventId: string,
    tx?: PostgresProjectionTx,
  ): Promise<boolean> {
    const removed = await (tx ?? this.executor).query(this.sql.removeDeadLetter, [
      projection,
      eventId,
    ]);
    return removed.length > 0;
  }
}

function limitOf(limit: number | undefined, fallback: number): number {
  const value = limit ?? fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw new InvalidOptionsError('inspection limit', `use an integer from 1 to ${MAX_LIMIT}`);
  }
  return value;
}
