import type { CanActivate, DynamicModule, ForwardReference, Type } from '@nestjs/common';
import {
  type CheckpointStore,
  type EventStore,
  type EventStoreInspection,
  InvalidOptionsError,
} from '@eventcore/core';
import { MIN_ADMIN_TOKEN_LENGTH } from '../http/admin-token.guard';

/** Options of `EventCoreConsoleModule.forRoot`. At least one of `guard`, `token` and `localOnly` is required. */
export interface EventCoreConsoleOptions {
  /**
   * Where the console is served, under the application's global prefix.
   * @default '/eventcore'
   */
  readonly path?: string;
  /**
   * Your authorization guard (a `CanActivate` class, as for `@UseGuards`): every console request
   * must pass it. It is instantiated in the console's module, so its dependencies must be global
   * or provided by `imports`.
   */
  readonly guard?: Type<CanActivate>;
  /** Modules the `guard` needs (e.g. your auth module). */
  readonly imports?: readonly (Type | DynamicModule | Promise<DynamicModule> | ForwardReference)[];
  /**
   * The administrators' token, the same one `AdminTokenModule` takes (e.g.
   * `process.env.EVENTCORE_ADMIN_TOKEN`; at least 16 visible ASCII characters): browsers sign in
   * with it on the console's sign-in page (an HttpOnly, SameSite=Strict session cookie follows);
   * scripts may send it as `Authorization: Bearer <token>`. An unset variable (undefined or
   * empty) counts as no token.
   */
  readonly token?: string;
  /**
   * Serve only connections from this machine (loopback addresses, with a loopback host name in
   * `Host`, which also defeats DNS rebinding). Behind a reverse proxy on the same machine every
   * request looks local: use `guard` or `token` there.
   * @default false
   */
  readonly localOnly?: boolean;
  /**
   * Answers what the event store port cannot: stream search, traces, the log head, the blocking
   * transaction, dead-letter retry and skip. A value, or a factory given the module's stores
   * (e.g. `({ eventStore }) => new PostgresStoreInspection(eventStore as PostgresEventStore)`).
   * @default an `InMemoryStoreInspection` when the store is an `InMemoryEventStore`; otherwise
   * none, and the pages say what is unavailable
   */
  readonly inspection?:
    | EventStoreInspection
    | ((stores: {
        readonly eventStore: EventStore;
        readonly checkpointStore: CheckpointStore;
      }) => EventStoreInspection);
  /**
   * How often live pages (overview, projections) refresh their figures, in milliseconds.
   * @default 2000
   */
  readonly refreshMs?: number;
}

/** The options once checked: what the console's providers get. */
export interface ResolvedConsoleOptions {
  /** The mount path with a leading slash and no trailing one, e.g. `/eventcore`. */
  readonly path: string;
  readonly guard: Type<CanActivate> | undefined;
  readonly token: string | undefined;
  readonly localOnly: boolean;
  readonly inspection: EventCoreConsoleOptions['inspection'];
  readonly refreshMs: number;
}

const SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * Checks the options; the console refuses to mount (the application fails to start) without an
 * access rule.
 * @throws InvalidOptionsError
 */
export function resolveConsoleOptions(options: EventCoreConsoleOptions): ResolvedConsoleOptions {
  const token = options.token || undefined;
  if (options.guard === undefined && token === undefined && options.localOnly !== true) {
    throw new InvalidOptionsError(
      'console access',
      'EventCoreConsoleModule refuses to mount without access control. Pass `guard` (your authorization guard class), `token` (the admin token, e.g. process.env.EVENTCORE_ADMIN_TOKEN — is it set?) or `localOnly: true` (connections from this machine only)',
    );
  }
  if (options.guard !== undefined && typeof options.guard !== 'function') {
    throw new InvalidOptionsError('console guard', 'pass a guard class (a CanActivate provider)');
  }
  if (
    token !== undefined &&
    (token.length < MIN_ADMIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token))
  ) {
    throw new InvalidOptionsError(
      'console token',
      `it must be at least ${MIN_ADMIN_TOKEN_LENGTH} visible ASCII characters (for example: openssl rand -hex 32)`,
    );
  }
  const segments = (options.path ?? 'eventcore').split('/').filter((s) => s !== '');
  if (segments.length === 0 || !segments.every((s) => SEGMENT.test(s))) {
    throw new InvalidOptionsError(
      'console path',
      'use one or more path segments of letters, digits and . _ ~ -, e.g. "/eventcore"',
    );
  }
  const refreshMs = options.refreshMs ?? 2_000;
  if (!Number.isSafeInteger(refreshMs) || refreshMs < 250 || refreshMs > 600_000) {
    throw new InvalidOptionsError('console refreshMs', 'use an integer from 250 to 600000');
  }
  return {
    path: `/${segments.join('/')}`,
    guard: options.guard,
    token,
    localOnly: options.localOnly === true,
    inspection: options.inspection,
    refreshMs,
  };
}
