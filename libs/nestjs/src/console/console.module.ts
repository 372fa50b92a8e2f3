import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import {
  type CheckpointStore,
  type EventStore,
  type EventStoreInspection,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemoryStoreInspection,
} from '@eventcore/core';
import { EVENTCORE_CHECKPOINT_STORE, EVENTCORE_EVENT_STORE } from '../eventcore.constants';
import { ConsoleAccessGuard } from './console-access.guard';
import {
  CONSOLE_APP_GUARD,
  CONSOLE_INSPECTION,
  CONSOLE_OPTIONS,
  CONSOLE_SESSIONS,
} from './console.constants';
import { consoleControllerAt } from './console.controller';
import { ConsoleExceptionFilter } from './console.exception-filter';
import {
  type EventCoreConsoleOptions,
  resolveConsoleOptions,
  type ResolvedConsoleOptions,
} from './console.options';
import { ConsoleSessions } from './console-security';
import { ConsoleService } from './console.service';

/**
 * The operations console: server-rendered pages at `path` (default `/eventcore`) showing the
 * store's health, the log head and rate, what holds subscribers back, the projections (with
 * pause, resume, rebuild and dead letters), streams and correlation traces. Import it beside
 * `EventCoreModule` (which must stay global, its default):
 *
 * ```ts
 * EventCoreConsoleModule.forRoot({ token: process.env.EVENTCORE_ADMIN_TOKEN })
 * ```
 *
 * Secure by default: it refuses to mount without `guard`, `token` or `localOnly: true`, and every
 * change is a POST checked against a CSRF token. Works with Nest's Express adapter (the default).
 */
@Module({})
export class EventCoreConsoleModule {
  /**
   * The console at `options.path`, with its access rule.
   * @throws InvalidOptionsError (at startup) without an access rule, or for a short token, a
   * malformed path or refresh interval
   */
  static forRoot(options: EventCoreConsoleOptions): DynamicModule {
    const resolved = resolveConsoleOptions(options);
    const guard = resolved.guard;
    const providers: Provider[] = [
      { provide: CONSOLE_OPTIONS, useValue: resolved },
      {
        provide: CONSOLE_SESSIONS,
        useValue: resolved.token === undefined ? null : new ConsoleSessions(resolved.token),
      },
      {
        provide: CONSOLE_INSPECTION,
        inject: [EVENTCORE_EVENT_STORE, EVENTCORE_CHECKPOINT_STORE],
        useFactory: (eventStore: EventStore, checkpointStore: CheckpointStore) =>
          inspectionOf(resolved, eventStore, checkpointStore),
      },
      ...(guard === undefined ? [] : [guard, { provide: CONSOLE_APP_GUARD, useExisting: guard }]),
      ConsoleAccessGuard,
      ConsoleExceptionFilter,
      ConsoleService,
    ];
    return {
      module: EventCoreConsoleModule,
      imports: [DiscoveryModule, ...(options.imports ?? [])],
      controllers: [consoleControllerAt(resolved.path)],
      providers,
    };
  }
}

function inspectionOf(
  options: ResolvedConsoleOptions,
  eventStore: EventStore,
  checkpointStore: CheckpointStore,
): EventStoreInspection | null {
  const given = options.inspection;
  if (typeof given === 'function') return given({ eventStore, checkpointStore });
  if (given !== undefined) return given;
  if (!(eventStore instanceof InMemoryEventStore)) return null;
  return new InMemoryStoreInspection(
    eventStore,
    checkpointStore instanceof InMemoryCheckpointStore ? checkpointStore : undefined,
  );
}
