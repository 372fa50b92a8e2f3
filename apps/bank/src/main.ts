import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createBankApp } from './bank-app';
import { bankStoreFromEnv } from './bank-store';
import { registerPrometheusMetrics } from './metrics/metrics';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got "${process.env.PORT}"`);
  }
  const metrics = registerPrometheusMetrics();
  const store = await bankStoreFromEnv();
  const app = await createBankApp({ ...store, metrics });
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  const logger = new Logger('Bank');
  logger.log(`Events in ${store.description}`);
  logger.log(`Listening on ${await app.getUrl()} (health at /health, metrics at /metrics)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
