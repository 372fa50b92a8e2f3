import { createHash } from 'node:crypto';
import {
  type CommandSnapshot,
  type EventSerializer,
  JSON_SNAPSHOT_SERIALIZER,
  type Position,
  type RecordedEvent,
  type SnapshotKey,
  type SnapshotLoad,
  type SnapshotScope,
  type SnapshotStore,
  type StreamId,
} from '@eventcore/core';
import {
  checkKeep,
  checkSnapshot,
  checkSnapshotKey,
  checkSnapshotScope,
} from '@eventcore/core/adapter';
import type { SqlExecutor } from '../executor/sql-executor';
import { PostgresEventStore } from '../postgres.event-store';
import { encodePosition, START } from '../position';
import { migrate } from '../schema/migrate';
import { checkSchemaName, DEFAULT_SCHEMA } from '../schema/schema-name';
import { type DedupedEventRow, RowDecoder } from '../sql/event-row.mapper';
import { loadSnapshotSql, pruneSnapshotsSql, saveSnapshotSql } from './snapshot.sql';

/** Options of {@link createPostgresSnapshotStore}. */
export interface PostgresSnapshotStoreOptions {
  /** Schema of the events and snapshots. @default the event store's schema, else 'eventcore' */
  readonly schema?: string;
  /** Bring the schema up to date first (creates the table). @default true */
  readonly migrate?: boolean;
  /** @default JSON */
  readonly serializer?: EventSerializer;
}

type LoadRow = DedupedEventRow & {
  hx: string | null;
  hp: string | number | null;
  cv: (string | number)[] | null;
  nv: (string | number)[] | null;
  ne: string | null;
  ns: Uint8Array | null;
};

/**
 * Command-state snapshots in the `snapshots` table beside the events (schema version 7), shared by
 * every instance and kept across restarts. `load` is one statement: the newest valid snapshot and
 * the events after it. Over a `pg` pool or PGlite, like the event store.
 */
export class PostgresSnapshotStore implements SnapshotStore {
  readonly serializer: EventSerializer;
  private readonly sql: { load: string; save: string; prune: string };
  private readonly loadName: string;

  constructor(
    private readonly executor: SqlExecutor,
    schema: string = DEFAULT_SCHEMA,
    serializer: EventSerializer = JSON_SNAPSHOT_SERIALIZER,
  ) {
    const checked = checkSchemaName(schema);
    this.serializer = serializer;
    this.sql = {
      load: loadSnapshotSql(checked),
      save: saveSnapshotSql(checked),
      prune: pruneSnapshotsSql(checked),
    };
    this.loadName = `eventcore_load_snapshot_${checked}`;
  }

  async load(key: SnapshotKey): Promise<SnapshotLoad> {
    checkSnapshotKey(key);
    const rows = await this.executor.query<LoadRow>(
      this.sql.load,
      [key.boundary, scopeKey(key), key.commandName, key.stateVersion, key.fingerprint],
      { name: this.loadName },
    );
    const first = rows[0]!;
    const versions = new Map<StreamId, number>();
    key.boundary.forEach((id, i) => versions.set(id, Number(first.cv![i])));
    const events: RecordedEvent[] = [];
    const decoder = new RowDecoder();
    for (const row of rows) if (row.i !== null) events.push(decoder.decode(row));
    const head =
      first.hx === null ? START : { transactionId: first.hx, globalPosition: String(first.hp) };
    return {
      snapshot:
        first.nv === null
          ? undefined
          : {
              versions: first.nv.map(Number),
              encoding: first.ne!,
              state: new Uint8Array(first.ns!),
            },
      events,
      versions,
      position: encodePosition(head) as Position,
    };
  }

  async save(snapshot: CommandSnapshot): Promise<void> {
    checkSnapshot(snapshot);
    await this.executor.query(this.sql.save, [
      scopeKey(snapshot),
      snapshot.commandName,
      snapshot.boundary,
      snapshot.versions,
      snapshot.stateVersion,
      snapshot.fingerprint,
      snapshot.encoding,
      Buffer.from(snapshot.state.buffer, snapshot.state.byteOffset, snapshot.state.byteLength),
    ]);
  }

  async prune(scope: SnapshotScope, keep: number): Promise<number> {
    checkSnapshotScope(scope);
    checkKeep(keep);
    const [row] = await this.executor.query<{ n: number }>(this.sql.prune, [
      scopeKey(scope),
      scope.commandName,
      scope.boundary,
      keep,
    ]);
    return Number(row?.n ?? 0);
  }
}

/**
 * A snapshot store on the database of `source` (an event store, whose schema it shares, or an
 * executor), after migrating the schema unless told not to.
 */
export async function createPostgresSnapshotStore(
  source: PostgresEventStore | SqlExecutor,
  options: PostgresSnapshotStoreOptions = {},
): Promise<PostgresSnapshotStore> {
  const isStore = source instanceof PostgresEventStore;
  const schema = checkSchemaName(
    options.schema ?? (isStore ? source.schema : undefined) ?? DEFAULT_SCHEMA,
  );
  const executor = isStore ? source.sqlExecutor : source;
  if (options.migrate !== false) await migrate(executor, { schema });
  return new PostgresSnapshotStore(executor, schema, options.serializer);
}

/** The lookup key of a scope: a digest, so the index stays small for wide boundaries. */
function scopeKey(scope: SnapshotScope): string {
  return createHash('sha256')
    .update(JSON.stringify([scope.commandName, scope.boundary]))
    .digest('base64url');
}
