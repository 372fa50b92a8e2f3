import {
  type CheckpointStore,
  CheckpointMovedError,
  type DeadLetter,
  type Position,
  type RecordedEvent,
} from '@eventcore/core';
import { toDeadLetter } from '@eventcore/core/adapter';
import type { SqlExecutor, SqlQueryable } from '../executor/sql-executor';
import { PostgresEventStore } from '../postgres.event-store';
import { migrate } from '../schema/migrate';
import { checkSchemaName, DEFAULT_SCHEMA, quoted } from '../schema/schema-name';

/**
 * What a projection's handler gets as `context.tx` with the PostgreSQL checkpoint store: the open
 * transaction that will also move the checkpoint. Run the read-model SQL on it
 * (`tx.query('UPDATE ... WHERE id = $1', [id])`), never on another connection.
 */
export type PostgresProjectionTx = SqlQueryable;

/** Options of {@link createPostgresCheckpointStore}. */
export interface PostgresCheckpointStoreOptions {
  /** Schema of the checkpoint tables. @default the event store's schema, else 'eventcore' */
  readonly schema?: string;
  /** Bring the schema up to date first (creates the tables). @default true */
  readonly migrate?: boolean;
}

interface DeadLetterRow {
  projection: string;
  event_id: string;
  stream_id: string;
  event_type: string;
  global_position: string | number;
  error: string;
  recorded_at: string;
}

/**
 * Checkpoints and dead letters in PostgreSQL, transactional: `commit` runs the projection's work and
 * moves the checkpoint in ONE database transaction, so a read model in the same database changes
 * exactly once per event. Fenced: the checkpoint moves only from the position the caller read; if
 * another instance moved it, everything (the read-model change included) is rolled back and
 * `CheckpointMovedError` is thrown.
 *
 * Works over a `pg` pool and over PGlite (whose single connection serialises transactions).
 */
export class PostgresCheckpointStore implements CheckpointStore<PostgresProjectionTx> {
  readonly transactional = true;
  private readonly sql: {
    lock: string;
    insert: string;
    update: string;
    reset: string;
    load: string;
    letter: string;
    letters: string;
  };

  constructor(
    private readonly executor: SqlExecutor,
    schema: string = DEFAULT_SCHEMA,
  ) {
    const s = quoted(checkSchemaName(schema));
    this.sql = {
      // Taken first: a second instance with the same `from` waits here instead of doing the
      // batch's read-model work concurrently, then fails the fence without having written anything.
      lock: `SELECT position FROM ${s}.checkpoints WHERE projection = $1 FOR UPDATE`,
      // First commit (or first after a reset): no row yet, or a row reset to NULL. A concurrent
      // first commit blocks on the conflicting key, then finds a non-NULL position: 0 rows.
      insert: `INSERT INTO ${s}.checkpoints AS c (projection, position) VALUES ($1, $2)
               ON CONFLICT (projection) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
               WHERE c.position IS NULL RETURNING 1 AS moved`,
      update: `UPDATE ${s}.checkpoints SET position = $3, updated_at = now()
               WHERE projection = $1 AND position = $2 RETURNING 1 AS moved`,
      reset: `UPDATE ${s}.checkpoints SET position = NULL, updated_at = now() WHERE projection = $1`,
      load: `SELECT position FROM ${s}.checkpoints WHERE projection = $1`,
      letter: `INSERT INTO ${s}.dead_letters
                 (projection, event_id, stream_id, event_type, global_position, error)
               VALUES ($1, $2, $3, $4, $5, $6)`,
      letters: `SELECT projection, event_id, stream_id, event_type, global_position, error,
                       to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded_at
                  FROM ${s}.dead_letters WHERE projection = $1 ORDER BY id`,
    };
  }

  async load(projection: string): Promise<Position | undefined> {
    const [row] = await this.executor.query<{ position: string | null }>(this.sql.load, [
      projection,
    ]);
    return (row?.position ?? undefined) as Position | undefined;
  }

  /**
   * Runs `work(tx)` and moves the checkpoint from `from` to `to` in one transaction.
   * @throws CheckpointMovedError when the checkpoint is no longer `from` (nothing is committed);
   * whatever `work` throws (nothing is committed either).
   */
  commit<T>(
    projection: string,
    from: Position | undefined,
    to: Position,
    work: (tx: PostgresProjectionTx) => Promise<T>,
  ): Promise<T> {
    return this.executor.transaction(async (tx) => {
      await this.fence(tx, projection, from);
      const result = await work(tx);
      await this.move(tx, projection, from, to);
      return result;
    });
  }

  /** Sets the checkpoint back to "from the beginning" and runs `work` (the read model's reset) in the same transaction. */
  async reset(
    projection: string,
    work: (tx: PostgresProjectionTx) => Promise<void>,
  ): Promise<void> {
    await this.executor.transaction(async (tx) => {
      await tx.query(this.sql.reset, [projection]);
      await work(tx);
    });
  }

  /** Runs `work` (a projection's `setup`) in one transaction; no checkpoint moves. */
  transaction<T>(work: (tx: PostgresProjectionTx) => Promise<T>): Promise<T> {
    return this.executor.transaction(work);
  }

  /**
   * Records the event (id, stream, type, position and the error message — never its data) and
   * moves the checkpoint past it, in one transaction.
   * @throws CheckpointMovedError when the checkpoint is no longer `from`.
   */
  async deadLetter(
    projection: string,
    from: Position | undefined,
    to: Position,
    event: RecordedEvent,
    error: unknown,
  ): Promise<void> {
    const letter = toDeadLetter(projection, event, error);
    await this.executor.transaction(async (tx) => {
      await this.fence(tx, projection, from);
      await tx.query(this.sql.letter, [
        projection,
        letter.eventId,
        letter.streamId,
        letter.eventType,
        letter.globalPosition,
        letter.error,
      ]);
      await this.move(tx, projection, from, to);
    });
  }

  async deadLetters(projection: string): Promise<readonly DeadLetter[]> {
    const rows = await this.executor.query<DeadLetterRow>(this.sql.letters, [projection]);
    return rows.map((row) => ({
      projection: row.projection,
      eventId: row.event_id,
      streamId: row.stream_id,
      eventType: row.event_type,
      globalPosition: Number(row.global_position),
      error: row.error,
      recordedAt: row.recorded_at,
    }));
  }

  /** Locks the checkpoint row and fails early when it has moved. */
  private async fence(
    tx: SqlQueryable,
    projection: string,
    from: Position | undefined,
  ): Promise<void> {
    const [row] = await tx.query<{ position: string | null }>(this.sql.lock, [projection]);
    if ((row?.position ?? undefined) !== from) throw new CheckpointMovedError(projection);
  }

  /** The fenced move itself; the authority when no row existed to lock. */
  private async move(
    tx: SqlQueryable,
    projection: string,
    from: Position | undefined,
    to: Position,
  ): Promise<void> {
    const moved =
      from === undefined
        ? await tx.query(this.sql.insert, [projection, to])
        : await tx.query(this.sql.update, [projection, from, to]);
    // Throwing rolls the whole transaction back, the work included.
    if (moved.length === 0) throw new CheckpointMovedError(projection);
  }
}

/**
 * Creates the checkpoint store on the same database as `source` — a `PostgresEventStore` (its
 * executor and schema are reused) or a `SqlExecutor` — and, unless `migrate: false`, creates the
 * tables. Write the read model through `context.tx` and it commits with the checkpoint.
 */
export async function createPostgresCheckpointStore(
  source: PostgresEventStore | SqlExecutor,
  options: PostgresCheckpointStoreOptions = {},
): Promise<PostgresCheckpointStore> {
  const isStore = source instanceof PostgresEventStore;
  const schema = checkSchemaName(
    options.schema ?? (isStore ? source.schema : undefined) ?? DEFAULT_SCHEMA,
  );
  const executor = isStore ? source.sqlExecutor : source;
  if (options.migrate !== false) await migrate(executor, { schema });
  return new PostgresCheckpointStore(executor, schema);
}
