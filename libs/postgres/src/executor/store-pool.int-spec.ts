import type { PostgresEventStore } from '../postgres.event-store';
import { createPostgresEventStore } from '../postgres.factory';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '../testing/test-database';

describeWithServer('the store pool (PostgreSQL)', () => {
  let database: TestDatabase;
  let store: PostgresEventStore | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('turns JIT off on its connections: a generic plan of a few streams must not be compiled', async () => {
    store = await createPostgresEventStore({ connectionString: database.url });
    const [row] = await store.sqlExecutor.query<{ jit: string }>('SHOW jit');
    expect(row?.jit).toBe('off');
  });
});
