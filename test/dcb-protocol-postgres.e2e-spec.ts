import type { INestApplication } from '@nestjs/common';
import { createPostgresEventStore, type PostgresEventStore } from '@eventcore/postgres';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import { createCoursesApp } from '../apps/courses/src/courses-app';
import {
  type DcbApi,
  httpDefaultAdapter,
  runConsistencyCheck,
  runMonotonicCheck,
  runParallelWritesCheck,
} from './support/dcb-benchmark-suite';

/**
 * The three checks of the dcb.events k6 suite, ported (test/support/dcb-benchmark-suite.ts), run
 * over HTTP against the course sample serving the protocol (its benchmark opt-in), on a
 * PostgreSQL database of its own per check, with the suite's 20 parallel writers.
 */
describeWithServer('the dcb.events suite checks over HTTP on PostgreSQL', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let app: INestApplication;
  let api: DcbApi;

  beforeEach(async () => {
    database = await createTestDatabase();
    store = await createPostgresEventStore({ connectionString: database.url });
    app = await createCoursesApp({
      eventStore: store,
      dcbProtocol: 'benchmarks-and-tests-only',
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    api = httpDefaultAdapter(await app.getUrl());
  });

  afterEach(async () => {
    await app?.close();
    await database?.drop();
  });

  it('dcb-consistency: append conditions hold under 20 parallel writers with random queries', async () => {
    const report = await runConsistencyCheck(api, { writers: 20, appendsPerWriter: 25, seed: 13 });
    console.log(
      `consistency: ${report.appends} appends, ${report.conditionFailures} refused, ${report.eventsInLog} events`,
    );
    expect(report.violations).toEqual([]);
    expect(report.answerMismatches).toEqual([]);
    expect(report.unfoundedFailures).toEqual([]);
    // Not vacuous: writers did collide, and many appends went through (a query of no item is
    // `all`, which any concurrent append fails, so refusals are common).
    expect(report.conditionFailures).toBeGreaterThan(0);
    expect(report.appends - report.conditionFailures).toBeGreaterThan(100);
  });

  it('dcb-monotonic: every read of the log extends the previous one, in rising positions', async () => {
    // Each LateCommit event's transaction sleeps after taking its position, before committing:
    // the writers' later positions commit first meanwhile, and gap-safe reads must not show them
    // ahead of it.
    const pool = database.pool();
    await pool.query(`
      CREATE FUNCTION eventcore.late_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
      CREATE TRIGGER late_commit AFTER INSERT ON eventcore.events
        FOR EACH ROW WHEN (NEW.type = 'LateCommit') EXECUTE FUNCTION eventcore.late_commit();`);
    const report = await runMonotonicCheck(api, {
      writers: 5,
      appendsPerWriter: 40,
      readers: 2,
      tailReaders: 4,
      lateCommits: 5,
      seed: 14,
    });
    console.log(
      `monotonic: ${report.appends} appends, ${report.reads} reads of ${report.distinctLengths} lengths, ${report.tailReads} tail reads`,
    );
    expect(report.violations).toEqual([]);
    expect(report.appends).toBe(200);
    expect(report.distinctLengths).toBeGreaterThan(10);
    expect(report.tailReads).toBeGreaterThan(100);
  });

  it('dcb-parallel-writes: 20 writers of unrelated events never fail', async () => {
    const report = await runParallelWritesCheck(api, { writers: 20, appendsPerWriter: 25 });
    expect(report).toEqual({ appends: 500, conditionFailures: 0, missingOrRepeated: [] });
  });
});
