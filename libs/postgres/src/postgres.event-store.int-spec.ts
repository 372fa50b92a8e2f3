import { archivingContract, dcbContract, eventStoreContract } from '@eventcore/core/testing';
import type { Pool } from 'pg';
import { createPostgresEventStore } from './postgres.factory';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

describeWithServer('PostgresEventStore on a server', () => {
  let database: TestDatabase;
  let pool: Pool;
  let stores = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = database.pool({ max: 24 });
  });

  afterAll(async () => {
    await database?.drop();
  });

  // Each store gets a fresh schema in this file's database; the pool is ours, so close() keeps it.
  const teardown = async (store: { schema: string }) => {
    await pool.query(`DROP SCHEMA "${store.schema}" CASCADE`);
  };
  eventStoreContract(
    'PostgreSQL server',
    () => createPostgresEventStore({ pool, schema: `contract_${++stores}` }),
    { teardown },
  );
  dcbContract(
    'PostgreSQL server',
    () => createPostgresEventStore({ pool, schema: `contract_${++stores}` }),
    { teardown },
  );
  archivingContract(
    'PostgreSQL server',
    () => createPostgresEventStore({ pool, schema: `contract_${++stores}` }),
    { teardown },
  );
});
