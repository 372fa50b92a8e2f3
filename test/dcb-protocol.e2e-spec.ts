/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { INestApplication } from '@nestjs/common';
import { type EventStore, InMemoryEventStore } from '@eventcore/core';
import { createPGliteEventStore } from '@eventcore/postgres';
import { loadPGlite } from '@eventcore/postgres/testing';
import { createCoursesApp } from '../apps/courses/src/courses-app';
import {
  type DcbApi,
  httpDefaultAdapter,
  runConsistencyCheck,
  runMonotonicCheck,
  runParallelWritesCheck,
} from './support/dcb-benchmark-suite';

/** A store and what closes it besides the app. */
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

/**
 * The ported dcb.events suite checks (see dcb-protocol-postgres.e2e-spec.ts for the full size on
 * PostgreSQL), smaller, over HTTP against the course sample on the embedded stores.
 */
describe.each(stores)('the dcb.events suite checks over HTTP %s', (_name, makeStore) => {
  let app: INestApplication;
  let close: () => Promise<void>;
  let api: DcbApi;

  beforeEach(async () => {
    const made = await makeStore();
    close = made.close;
    app = await createCoursesApp({
      eventStore: made.store,
      dcbProtocol: 'benchmarks-and-tests-only',
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    api = httpDefaultAdapter(await app.getUrl());
  });

  afterEach(async () => {
    await app.close();
    await close();
  });

  it('dcb-consistency', async () => {
    const report = await runConsistencyCheck(api, { writers: 8, appendsPerWriter: 15, seed: 3 });
    expect(report.violations).toEqual([]);
    expect(report.answerMismatches).toEqual([]);
    expect(report.unfoundedFailures).toEqual([]);
    expect(report.appends).toBe(120);
  });

  it('dcb-monotonic', async () => {
    const report = await runMonotonicCheck(api, {
      writers: 3,
      appendsPerWriter: 15,
      readers: 1,
      tailReaders: 1,
      seed: 4,
    });
    expect(report.violations).toEqual([]);
    expect(report.distinctLengths).toBeGreaterThan(1);
  });

  it('dcb-parallel-writes', async () => {
    const report = await runParallelWritesCheck(api, { writers: 8, appendsPerWriter: 10 });
    expect(report).toEqual({ appends: 80, conditionFailures: 0, missingOrRepeated: [] });
  });
});
