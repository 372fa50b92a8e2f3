import type { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventCoreExceptionFilter, eventCoreValidationPipe } from '@eventcore/nestjs';
import { ShopAppModule, type ShopAppOptions } from './shop-app.module';

/** Builds the shop as a Nest application (not yet listening); used by `main.ts` and the e2e tests. */
export async function createShopApp(
  options: ShopAppOptions & { logger?: false | LogLevel[] } = {},
): Promise<INestApplication> {
  const app = await NestFactory.create(ShopAppModule.forRoot(options), {
    logger: options.logger ?? ['error', 'warn', 'log'],
  });
  app.useGlobalPipes(eventCoreValidationPipe());
  app.useGlobalFilters(new EventCoreExceptionFilter());
  app.enableShutdownHooks();
  return app;
}
