import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type DynamicModule, type INestApplication, Module, type Provider } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { InMemoryEventStore } from '@eventcore/core';
import {
  EventCoreConsoleModule,
  type EventCoreConsoleOptions,
  EventCoreExceptionFilter,
  eventCoreValidationPipe,
} from '@eventcore/nestjs';
import { BankAppModule, type BankAppOptions } from '../../apps/bank/src/bank-app.module';

/** Debian's Chromium (`apt-get install chromium`): browser downloads are not possible here. */
export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet, offline, throw-away headless Chromium (run as root, no GPU). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where the browser tests write their screenshots (CI keeps `.ci/out/`). */
export const SCREENSHOTS = resolve(__dirname, '../../.ci/out');

/**
 * `describe` for suites that drive Chromium. Without `/usr/bin/chromium` the suite is skipped
 * loudly (a warning and "SKIPPED" in its name) — except in CI (`CI=true`), where that is a failure:
 * `.ci/run` installs Chromium, so a missing one is a broken setup, not a reason to go green.
 */
export function describeWithBrowser(name: string, body: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs Chromium', () => {
        throw new Error(`${CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)`);
      });
    });
    return;
  }
  console.warn(`SKIPPED "${name}": no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  describe.skip(`${name} [SKIPPED: no Chromium at ${CHROMIUM}]`, body);
}

/** A headless Chromium with a fresh profile (`--user-data-dir`), removed by `close()`. */
export interface Browser {
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'eventcore-chromium-'));
  // A persistent context is how Playwright takes a user data directory of our choosing.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as `.ci/out/console-<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `console-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** What {@link startBankWithConsole} adds to the sample bank. */
export interface BankWithConsoleOptions {
  readonly console: EventCoreConsoleOptions;
  /** The bank's stores and read model. @default all in memory */
  readonly bank?: Omit<BankAppOptions, 'adminToken'>;
  /** Admin token of the bank's own `/projections` routes. @default none */
  readonly adminToken?: string;
  /** More modules and providers (e.g. a projection under test). */
  readonly imports?: readonly DynamicModule[];
  readonly providers?: readonly Provider[];
}

/**
 * The sample bank (in memory unless `bank` says otherwise) with the console mounted beside it, configured like `createBankApp`
 * (JSON body parser only, EventCore's pipe and filter), listening on a free port of 127.0.0.1.
 */
export async function startBankWithConsole(
  options: BankWithConsoleOptions,
): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [
      BankAppModule.forRoot({
        eventStore: new InMemoryEventStore(),
        ...options.bank,
        adminToken: options.adminToken,
      }),
      EventCoreConsoleModule.forRoot(options.console),
      ...(options.imports ?? []),
    ],
    providers: [...(options.providers ?? [])],
  })
  class BankWithConsole {}

  const app = await NestFactory.create<NestExpressApplication>(BankWithConsole, {
    logger: false,
    bodyParser: false,
  });
  app.useBodyParser('json');
  app.useGlobalPipes(eventCoreValidationPipe());
  app.useGlobalFilters(new EventCoreExceptionFilter());
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}
