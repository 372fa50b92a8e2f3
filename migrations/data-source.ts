import { DataSource } from 'typeorm';
import { EventStoreSchema1764201600000 } from './1764201600000-EventStoreSchema';
import { ProjectionSchema1764288000000 } from './1764288000000-ProjectionSchema';
import { FastAppend1764374400000 } from './1764374400000-FastAppend';
import { BinaryEncodings1764460800000 } from './1764460800000-BinaryEncodings';
import { BatchedAppend1764547200000 } from './1764547200000-BatchedAppend';

/** The event store's schema versions as TypeORM migrations, oldest first. */
export const EVENTCORE_MIGRATIONS = [
  EventStoreSchema1764201600000,
  ProjectionSchema1764288000000,
  FastAppend1764374400000,
  BinaryEncodings1764460800000,
  BatchedAppend1764547200000,
];

/**
 * The DataSource the TypeORM CLI uses to run the event store's migrations against `DATABASE_URL`
 * (compile first, see docs): `npx typeorm migration:run -d dist/migrations/data-source.js`.
 */
export default new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  migrations: EVENTCORE_MIGRATIONS,
  migrationsTableName: 'eventcore_typeorm_migrations',
});
