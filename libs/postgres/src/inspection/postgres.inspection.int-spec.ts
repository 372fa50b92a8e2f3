import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { PgPoolSqlExecutor } from '../executor/pg-pool.sql-executor';
import { PostgresEventStore } from '../postgres.event-store';
import { createPostgresEventStore } from '../postgres.factory';
import {
  ADMIN_URL,
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '../testing/test-database';
import { PostgresStoreInspection } from './postgres.inspection';

/** What holds subscribers back, seen from a store in one database while another database writes. */
describeWithServer('PostgresStoreInspection (server)', () => {
  let database: TestDatabase;
  let other: TestDatabase;
  let store: PostgresEventStore;
  let holder: Client;
  let holderPid: number;
  const role = `eventcore_test_role_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: ADMIN_URL, max: 1 });

  beforeAll(async () => {
    database = await createTestDatabase();
    other = await createTestDatabase();
    store = await createPostgresEventStore({ connectionString: database.url });
    await admin.query(`CREATE ROLE ${role} LOGIN`);
  });

  afterAll(async () => {
    await store.close();
    await Promise.all([database.drop(), other.drop()]);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  /** A write transaction left open, idle, in the other database (as a forgotten psql session would). */
  beforeEach(async () => {
    holder = new Client({ connectionString: other.url, application_name: 'inspection-holder' });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('CREATE TABLE held (x int)');
    holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
      .pid;
  });

  afterEach(async () => {
    await holder.query('ROLLBACK');
    await holder.end();
  });

  it('names the oldest open write transaction of the server, in another database', async () => {
    const report = await new PostgresStoreInspection(store).oldestWriteTransaction();
    expect(report).toEqual({
      known: true,
      transaction: {
        pid: holderPid,
        database: other.name,
        applicationName: 'inspection-holder',
        state: 'idle in transaction',
        ageSeconds: expect.any(Number),
        queryStart: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      },
    });
    if (!report.known) throw new Error('unreachable');
    expect(report.transaction!.ageSeconds).toBeGreaterThan(0);
  });

  it('answers "unknown", never "none", for a role that cannot see other sessions', async () => {
    const url = new URL(database.url);
    url.username = role;
    const pool = new Pool({ connectionString: url.toString(), max: 1 });
    const unprivileged = new PostgresStoreInspection(
      new PostgresEventStore(new PgPoolSqlExecutor(pool, true), { schema: store.schema }),
    );
    try {
      expect(await unprivileged.oldestWriteTransaction()).toEqual({
        known: false,
        reason: expect.stringContaining('pg_monitor'),
      });
      await admin.query(`GRANT pg_monitor TO ${role}`);
      expect(await unprivileged.oldestWriteTransaction()).toMatchObject({
        known: true,
        transaction: { pid: holderPid, database: other.name },
      });
    } finally {
      await pool.end();
    }
  });
});
