/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { INestApplication } from '@nestjs/common';
import { type EventStore, InMemoryEventStore } from '@eventcore/core';
import { createPGliteEventStore } from '@eventcore/postgres';
import { loadPGlite } from '@eventcore/postgres/testing';
import { createCoursesApp } from '../apps/courses/src/courses-app';
import { raceForUsername, runContendedSubscriptions } from './support/course-workload';

type StoreFactory = () => Promise<{ store: EventStore; close: () => Promise<void> }>;

const stores: [string, StoreFactory][] = [
  ['in memory', async () => ({ store: new InMemoryEventStore(), close: async () => undefined })],
  [
    'on PGlite',
    async () => {
      const db = await loadPGlite().create();
      return { store: await createPGliteEventStore({ db }), close: () => db.close() };
    },
  ],
];

/** The contended course workload of courses-postgres.e2e-spec.ts, smaller, on the embedded stores. */
describe.each(stores)('the course sample under contention %s', (_name, makeStore) => {
  let store: EventStore;
  let close: () => Promise<void>;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ store, close } = await makeStore());
    app = await createCoursesApp({
      eventStore: store,
      maxSubscriptionsPerStudent: 2,
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  });

  afterAll(async () => {
    await app.close();
    await close();
  });

  it('keeps capacity and the student limit under 60 concurrent subscriptions', async () => {
    const report = await runContendedSubscriptions(url, store, {
      courses: 6,
      capacity: 3,
      students: 10,
      limit: 2,
      subscriptions: 60,
      seed: 7,
    });
    expect(report.violations).toEqual([]);
    expect(report.subscribed).toBeGreaterThan(0);
  });

  it('lets one of 10 concurrent registrations of a username through', async () => {
    const race = await raceForUsername(url, store, 'bob', 10);
    expect(race.byCode).toEqual({ created: 1, '409 username.taken': 9 });
    expect(race.registered).toEqual(race.winners);
  });
});
