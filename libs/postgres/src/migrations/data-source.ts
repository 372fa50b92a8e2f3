import { DataSource } from 'typeorm';
import { EVENTCORE_MIGRATIONS } from './index';

/**
 * The DataSource the TypeORM CLI uses to run the event store's migrations against `DATABASE_URL`:
 * `npx typeorm migration:run -d node_modules/@eventcore/postgres/dist/migrations/data-source.js`
 * (in this repository, after `npm run build`: `-d libs/postgres/dist/migrations/data-source.js`).
 * Schema: `EVENTCORE_SCHEMA`, default `eventcore`.
 */
const dataSource = new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  migrations: EVENTCORE_MIGRATIONS,
  migrationsTableName: 'eventcore_typeorm_migrations',
});
export default dataSource;
