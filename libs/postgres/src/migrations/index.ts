/**
 * @eventcore/postgres/migrations — the event store's schema as TypeORM migrations, for apps that
 * run every schema change through TypeORM instead of the store's own `migrate()`. Needs `typeorm`
 * (an optional peer dependency of this package).
 */
import { EventStoreSchema1764201600000 } from './1764201600000-EventStoreSchema';
import { ProjectionSchema1764288000000 } from './1764288000000-ProjectionSchema';
import { FastAppend1764374400000 } from './1764374400000-FastAppend';
import { BinaryEncodings1764460800000 } from './1764460800000-BinaryEncodings';
import { BatchedAppend1764547200000 } from './1764547200000-BatchedAppend';
import { DcbTags1764633600000 } from './1764633600000-DcbTags';
import { Snapshots1764720000000 } from './1764720000000-Snapshots';
import { ArchivedEvents1764806400000 } from './1764806400000-ArchivedEvents';

export { EventCoreMigration } from './eventcore-migration';
export {
  EventStoreSchema1764201600000,
  ProjectionSchema1764288000000,
  FastAppend1764374400000,
  BinaryEncodings1764460800000,
  BatchedAppend1764547200000,
  DcbTags1764633600000,
  Snapshots1764720000000,
  ArchivedEvents1764806400000,
};

/** The event store's schema versions as TypeORM migrations, oldest first. */
export const EVENTCORE_MIGRATIONS = [
  EventStoreSchema1764201600000,
  ProjectionSchema1764288000000,
  FastAppend1764374400000,
  BinaryEncodings1764460800000,
  BatchedAppend1764547200000,
  DcbTags1764633600000,
  Snapshots1764720000000,
  ArchivedEvents1764806400000,
];
