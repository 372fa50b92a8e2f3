import {
  type CanActivate,
  type DynamicModule,
  Inject,
  Logger,
  Module,
  type OnModuleInit,
  type Type,
} from '@nestjs/common';
import { InvalidOptionsError } from '@eventcore/core';
import { dcbProtocolController } from './dcb-protocol.controller';

/** The value of {@link DcbProtocolOptions.unauthenticated} that opens the routes to anyone. */
export const DCB_PROTOCOL_UNAUTHENTICATED = 'benchmarks-and-tests-only';

/**
 * Options of {@link DcbProtocolModule.forRoot}. Give exactly one of `guard` and
 * `unauthenticated`: the routes read and write the whole store, so they are never open by default.
 */
export interface DcbProtocolOptions {
  /**
   * A guard every request to the routes must pass, e.g. `AdminTokenGuard`. It is created in this
   * module, so its dependencies must come from global modules.
   */
  readonly guard?: Type<CanActivate>;
  /**
   * Serves the routes to anyone who can reach the server: `'benchmarks-and-tests-only'`, for the
   * dcb.events k6 suite (which sends no credentials) and tests. Never on a reachable server.
   */
  readonly unauthenticated?: typeof DCB_PROTOCOL_UNAUTHENTICATED;
  /** Prefix of the routes (`<path>/read`, `<path>/append`). @default '' (the root) */
  readonly path?: string;
}

const OPTIONS = 'EVENTCORE:DCB_PROTOCOL_OPTIONS';

/**
 * The dcb.events HTTP protocol on the module's event store, so that the DCB project's k6 suite
 * runs against EventCore unchanged (its default HTTP adapter):
 * - `GET <path>/read?query=<json>&options=<json>` answers `[{ type, tags, data, position }]`;
 *   `options` are `{ from (inclusive), backwards, limit }`, all optional.
 * - `POST <path>/append` with `{ events: [{ type, data, tags }], condition?: { failIfEventsMatch,
 *   after? } }` answers 200 `{ durationInMicroseconds, appendConditionFailed }` — a failed
 *   condition is an answer, not an error.
 *
 * Bad input is a 400 problem (`request.invalid`, `eventcore.invalid_query`) and a held-back log a
 * 503, through the app's `EventCoreExceptionFilter`. Needs `EventCoreModule` and a JSON body
 * parser. Opt-in: import `DcbProtocolModule.forRoot(...)` with a guard, or with the explicit
 * unauthenticated opt-in for benchmarks and tests.
 */
@Module({})
export class DcbProtocolModule implements OnModuleInit {
  constructor(@Inject(OPTIONS) private readonly options: DcbProtocolOptions) {}

  /**
   * The routes, behind `options.guard` or openly with `unauthenticated`.
   * @throws InvalidOptionsError when neither (or both) of `guard` and `unauthenticated` is given,
   *   so an app never serves its whole store to anyone by omission.
   */
  static forRoot(options: DcbProtocolOptions): DynamicModule {
    const { guard, unauthenticated } = options ?? {};
    if (unauthenticated !== undefined && unauthenticated !== DCB_PROTOCOL_UNAUTHENTICATED) {
      throw new InvalidOptionsError(
        'DcbProtocolModule options',
        `unauthenticated must be '${DCB_PROTOCOL_UNAUTHENTICATED}' when given`,
      );
    }
    if ((guard === undefined) === (unauthenticated === undefined)) {
      throw new InvalidOptionsError(
        'DcbProtocolModule options',
        `give exactly one of guard (a CanActivate class every request must pass) and unauthenticated: '${DCB_PROTOCOL_UNAUTHENTICATED}'; the routes read and append to the whole event store`,
      );
    }
    if (guard !== undefined && typeof guard !== 'function') {
      throw new InvalidOptionsError('DcbProtocolModule options', 'guard must be a class');
    }
    return {
      module: DcbProtocolModule,
      controllers: [dcbProtocolController(options.path ?? '', guard)],
      providers: [{ provide: OPTIONS, useValue: options }],
    };
  }

  /** Warns, once the app starts, that the routes are open when they are. */
  onModuleInit(): void {
    if (this.options.unauthenticated !== undefined) {
      const prefix = (this.options.path ?? '').replace(/^\/+|\/+$/g, '');
      const base = prefix === '' ? '/' : `/${prefix}/`;
      new Logger('DcbProtocolModule').warn(
        `The dcb.events routes ${base}read and ${base}append are open to anyone who can reach this server: for benchmarks and tests only.`,
      );
    }
  }
}
