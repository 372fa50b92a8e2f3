import type { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BankAppModule, type BankAppOptions } from './bank-app.module';
import { EventCoreExceptionFilter, eventCoreValidationPipe } from '@eventcore/nestjs';

/** Builds the bank as a Nest application (not yet listening); used by `main.ts` and the e2e tests. */
export async function createBankApp(
  options: BankAppOptions & { logger?: false | LogLevel[] } = {},
): Promise<INestApplication> {
  const app = await NestFactory.create(BankAppModule.forRoot(options), {
    logger: options.logger ?? ['error', 'warn', 'log'],
  });
  app.useGlobalPipes(eventCoreValidationPipe());
  app.useGlobalFilters(new EventCoreExceptionFilter());
  app.enableShutdownHooks();
  return app;
}
