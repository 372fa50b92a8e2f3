import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { EventCoreExceptionFilter, eventCoreValidationPipe } from '@eventcore/nestjs';
import { CoursesAppModule, type CoursesAppOptions } from './courses-app.module';

/** Builds the course sample as a Nest application (not yet listening); used by `main.ts` and the e2e tests. */
export async function createCoursesApp(
  options: CoursesAppOptions & { logger?: false | LogLevel[] | LoggerService } = {},
): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(CoursesAppModule.forRoot(options), {
    logger: options.logger ?? ['error', 'warn', 'log'],
    // JSON only: the form parser (qs) drops keys such as __proto__ without a word, and this API
    // takes no forms. Any other body reaches validation as no body at all.
    bodyParser: false,
  });
  app.useBodyParser('json');
  app.useGlobalPipes(eventCoreValidationPipe());
  app.useGlobalFilters(new EventCoreExceptionFilter());
  app.enableShutdownHooks();
  return app;
}
