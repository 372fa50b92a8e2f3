import type { INestApplication } from '@nestjs/common';
import { createPostgresEventStore, type PostgresEventStore } from '@eventcore/postgres';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import { createCoursesApp } from '../apps/courses/src/courses-app';
import { raceForUsername, runContendedSubscriptions } from './support/course-workload';

/**
 * The course sample's invariants under contention over HTTP on PostgreSQL, where a decision's read
 * and its append are far enough apart for hundreds of requests to overlap.
 */
describeWithServer('the course sample under contention on PostgreSQL', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await createPostgresEventStore({ connectionString: database.url });
    app = await createCoursesApp({
      eventStore: store,
      maxSubscriptionsPerStudent: 3,
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('200 concurrent subscriptions: no course over capacity, no student over the limit, every answer true to the log', async () => {
    // 10 courses of 5 places (50) for 20 students of 3 courses each (60): both rules bind.
    const report = await runContendedSubscriptions(url, store, {
      courses: 10,
      capacity: 5,
      students: 20,
      limit: 3,
      subscriptions: 200,
      seed: 13,
    });
    console.log(`courses on PostgreSQL: ${JSON.stringify(report.byCode)}`);
    expect(report.violations).toEqual([]);
    expect(report.byCode['course.full']).toBeGreaterThan(0);
    expect(report.byCode['student.subscription_limit']).toBeGreaterThan(0);
    expect(report.subscribed).toBeGreaterThan(30);
  });

  it('20 concurrent registrations of one username: exactly one succeeds', async () => {
    const race = await raceForUsername(url, store, 'alice', 20);
    expect(race.byCode).toEqual({ created: 1, '409 username.taken': 19 });
    expect(race.registered).toEqual(race.winners);
  });
});
