import { dropProjectionSchemaV2, projectionSchemaV2 } from '../projection/projection.schema';
import { dropSnapshotSchemaV7, snapshotSchemaV7 } from '../snapshot/snapshot.schema';
import {
  dropEventStoreSchemaV1,
  dropEventStoreSchemaV3,
  dropEventStoreSchemaV4,
  dropEventStoreSchemaV5,
  dropEventStoreSchemaV6,
  eventStoreSchemaV1,
  eventStoreSchemaV3,
  eventStoreSchemaV4,
  eventStoreSchemaV5,
  eventStoreSchemaV6,
} from './event-store.schema';
import { dropEventStoreSchemaV8, eventStoreSchemaV8 } from './partition.schema';

/** One version of the schema. The TypeORM migrations in `migrations/` run the same statements. */
export interface SchemaMigration {
  readonly version: number;
  /** The TypeORM migration's name (`<timestamp>-<Name>`). */
  readonly name: string;
  up(schema: string): string[];
  down(schema: string): string[];
}

/** Every schema version, oldest first. */
export const SCHEMA_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    name: '1764201600000-EventStoreSchema',
    up: eventStoreSchemaV1,
    down: dropEventStoreSchemaV1,
  },
  {
    version: 2,
    name: '1764288000000-ProjectionSchema',
    up: projectionSchemaV2,
    down: dropProjectionSchemaV2,
  },
  {
    version: 3,
    name: '1764374400000-FastAppend',
    up: eventStoreSchemaV3,
    down: dropEventStoreSchemaV3,
  },
  {
    version: 4,
    name: '1764460800000-BinaryEncodings',
    up: eventStoreSchemaV4,
    down: dropEventStoreSchemaV4,
  },
  {
    version: 5,
    name: '1764547200000-BatchedAppend',
    up: eventStoreSchemaV5,
    down: dropEventStoreSchemaV5,
  },
  {
    version: 6,
    name: '1764633600000-DcbTags',
    up: eventStoreSchemaV6,
    down: dropEventStoreSchemaV6,
  },
  {
    version: 7,
    name: '1764720000000-Snapshots',
    up: snapshotSchemaV7,
    down: dropSnapshotSchemaV7,
  },
  {
    version: 8,
    name: '1764806400000-ArchivedEvents',
    up: eventStoreSchemaV8,
    down: dropEventStoreSchemaV8,
  },
];

/** The schema version this library needs. */
export const CURRENT_SCHEMA_VERSION = SCHEMA_MIGRATIONS[SCHEMA_MIGRATIONS.length - 1]!.version;

/** Records that `migration` ran; idempotent. */
export function recordVersionSql(schema: string): string {
  return `INSERT INTO "${schema}".schema_version (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING`;
}
