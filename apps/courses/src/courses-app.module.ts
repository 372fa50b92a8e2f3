import { type DynamicModule, Module } from '@nestjs/common';
import type { EventStore } from '@eventcore/core';
import {
  DCB_PROTOCOL_UNAUTHENTICATED,
  DcbProtocolModule,
  EventCoreHealthModule,
  EventCoreModule,
} from '@eventcore/nestjs';
import { CoursesController, MAX_SUBSCRIPTIONS_PER_STUDENT } from './courses/courses.controller';
import { CourseQueries } from './courses/courses.queries';

/** Options of the course sample. */
export interface CoursesAppOptions {
  /** @default an in-memory store */
  readonly eventStore?: EventStore;
  /** Most courses one student may hold at once. @default 5 */
  readonly maxSubscriptionsPerStudent?: number;
  /**
   * Also serve the dcb.events benchmark protocol (`GET /read`, `POST /append`) on the same store,
   * unauthenticated, for the DCB project's k6 suite: `'benchmarks-and-tests-only'`, never on a
   * reachable server. @default not served
   */
  readonly dcbProtocol?: typeof DCB_PROTOCOL_UNAUTHENTICATED;
  /** Runs after the app has shut down: closes what the caller opened for it. */
  readonly onShutdown?: () => Promise<void>;
}

/**
 * The course-subscription sample of dcb.events: courses with a capacity, students with a limit
 * on the courses they hold, and unique usernames — every rule kept by a boundary query and an
 * append condition, with no stream and no aggregate.
 */
@Module({})
export class CoursesAppModule {
  static forRoot(options: CoursesAppOptions = {}): DynamicModule {
    return {
      module: CoursesAppModule,
      imports: [
        EventCoreModule.forRoot({
          eventStore: options.eventStore,
          // No state cache: every command here is a query command, which the cache never serves
          // (decision 30). The app has no projection either, so no batching window to set.
          afterShutdown: options.onShutdown,
        }),
        EventCoreHealthModule.forRoot({ path: 'health' }),
        ...(options.dcbProtocol === undefined
          ? []
          : [DcbProtocolModule.forRoot({ unauthenticated: options.dcbProtocol })]),
      ],
      controllers: [CoursesController],
      providers: [
        CourseQueries,
        {
          provide: MAX_SUBSCRIPTIONS_PER_STUDENT,
          useValue: options.maxSubscriptionsPerStudent ?? 5,
        },
      ],
    };
  }
}
