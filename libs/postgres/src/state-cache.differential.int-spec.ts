import { stateCacheDifferentialSuite } from '@eventcore/core/testing';
import type { Pool } from 'pg';
import { createPostgresEventStore } from './postgres.factory';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

describeWithServer('state cache on a PostgreSQL server', () => {
  let database: TestDatabase;
  let pool: Pool;
  let stores = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = database.pool({ max: 16 });
  });

  afterAll(async () => {
    await database?.drop();
  });

  // One schema per store; concurrent commands run with the server's real concurrency.
  stateCacheDifferentialSuite(
    'PostgreSQL server',
    () => createPostgresEventStore({ pool, schema: `differential_${++stores}` }),
    { numRuns: 15, scheduled: false },
  );
});
