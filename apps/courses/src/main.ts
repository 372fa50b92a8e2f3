import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DCB_PROTOCOL_UNAUTHENTICATED } from '@eventcore/nestjs';
import { createPostgresStorage } from '@eventcore/postgres';
import { createCoursesApp } from './courses-app';
import { MAX_CAPACITY } from './courses/courses.commands';

/**
 * The course sample on PostgreSQL when DATABASE_URL is set, else on an embedded PGlite database in
 * EVENTCORE_DATA_DIR (default ./data/courses). COURSES_MAX_SUBSCRIPTIONS: how many courses a
 * student may hold (default 5). EVENTCORE_DCB_PROTOCOL=benchmarks-and-tests-only also serves the
 * dcb.events benchmark protocol, unauthenticated.
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3002);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got "${process.env.PORT}"`);
  }
  const protocol = process.env.EVENTCORE_DCB_PROTOCOL?.trim() || undefined;
  if (protocol !== undefined && protocol !== DCB_PROTOCOL_UNAUTHENTICATED) {
    throw new Error(
      `EVENTCORE_DCB_PROTOCOL must be "${DCB_PROTOCOL_UNAUTHENTICATED}" (or unset), got "${protocol}"`,
    );
  }
  const maxSubscriptions = Number(process.env.COURSES_MAX_SUBSCRIPTIONS ?? 5);
  if (
    !Number.isInteger(maxSubscriptions) ||
    maxSubscriptions < 1 ||
    maxSubscriptions > MAX_CAPACITY
  ) {
    throw new Error(
      `COURSES_MAX_SUBSCRIPTIONS must be an integer from 1 to ${MAX_CAPACITY}, got "${process.env.COURSES_MAX_SUBSCRIPTIONS}"`,
    );
  }
  const url = process.env.DATABASE_URL?.trim();
  const storage = await createPostgresStorage(
    url
      ? { connectionString: url }
      : { dataDir: process.env.EVENTCORE_DATA_DIR?.trim() || './data/courses' },
  );
  const app = await createCoursesApp({
    eventStore: storage.eventStore,
    maxSubscriptionsPerStudent: maxSubscriptions,
    dcbProtocol: protocol,
    onShutdown: () => storage.close(),
  });
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  const logger = new Logger('Courses');
  logger.log(`Events in ${storage.description}`);
  logger.log(`Listening on ${await app.getUrl()} (health at /health)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
