import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createPGliteEventStore, createPostgresEventStore } from '@eventcore/postgres';
import { createShopApp } from './shop-app';

/** The shop on PostgreSQL when DATABASE_URL is set, else on an embedded PGlite database. */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3001);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got "${process.env.PORT}"`);
  }
  const url = process.env.DATABASE_URL?.trim();
  const dataDir = process.env.EVENTCORE_DATA_DIR?.trim() || './data/shop';
  const eventStore = url
    ? await createPostgresEventStore({ connectionString: url })
    : await createPGliteEventStore({ dataDir });
  const app = await createShopApp({ eventStore });
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  const logger = new Logger('Shop');
  logger.log(`Events in ${url ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${dataDir}`}`);
  logger.log(`Listening on ${await app.getUrl()} (health at /health)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
