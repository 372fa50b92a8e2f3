import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createPostgresStorage } from '@eventcore/postgres';
import { createShopApp } from './shop-app';

/**
 * The shop on PostgreSQL when DATABASE_URL is set (several instances share the fulfilment process
 * manager), else on an embedded PGlite database in EVENTCORE_DATA_DIR (default ./data/shop).
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3001);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got "${process.env.PORT}"`);
  }
  const url = process.env.DATABASE_URL?.trim();
  const storage = await createPostgresStorage(
    url
      ? { connectionString: url }
      : { dataDir: process.env.EVENTCORE_DATA_DIR?.trim() || './data/shop' },
  );
  const app = await createShopApp({
    eventStore: storage.eventStore,
    checkpointStore: storage.checkpointStore,
    projectionLock: storage.projectionLock,
    onShutdown: () => storage.close(),
  });
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  const logger = new Logger('Shop');
  logger.log(`Events in ${storage.description}`);
  logger.log(`Listening on ${await app.getUrl()} (health at /health)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
