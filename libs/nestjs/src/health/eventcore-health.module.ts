import {
  Controller,
  type DynamicModule,
  Get,
  Inject,
  Module,
  Res,
  ServiceUnavailableException,
  type Type,
} from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { EventStoreHealthIndicator } from '../event-store.health';
import {
  type ProjectionsHealthOptions,
  ProjectionsHealthIndicator,
} from '../projections/projections.health';

/** Options of {@link EventCoreHealthModule.forRoot}. */
export interface EventCoreHealthOptions {
  /** Route of the health check (no leading slash needed). @default 'health' */
  readonly path?: string;
  /**
   * When the projections (process managers included) count as down besides being faulted.
   * @default {} (only a faulted projection is down)
   */
  readonly projections?: ProjectionsHealthOptions;
}

/** The part of the HTTP adapter's response the controller needs (Express and Fastify both fit). */
interface HealthResponse {
  status(code: number): unknown;
}

/**
 * A controller at `path` answering Terminus's report on the store (`eventStore`) and the
 * projections (`projections`). Built per module because Nest reads a controller's path from its
 * decorator.
 */
function healthControllerAt(path: string, projections: ProjectionsHealthOptions): Type {
  @Controller(path)
  class EventCoreHealthController {
    constructor(
      @Inject(HealthCheckService) private readonly health: HealthCheckService,
      @Inject(EventStoreHealthIndicator) private readonly store: EventStoreHealthIndicator,
      @Inject(ProjectionsHealthIndicator) private readonly workers: ProjectionsHealthIndicator,
    ) {}

    @Get()
    @HealthCheck()
    async check(@Res({ passthrough: true }) response: HealthResponse): Promise<unknown> {
      try {
        return await this.health.check([
          () => this.store.isHealthy('eventStore'),
          () => this.workers.isHealthy('projections', projections),
        ]);
      } catch (error) {
        // Down is a health report, not an error: answer Terminus's own body with its 503 here, so
        // no exception filter (EventCoreExceptionFilter turns errors into problem bodies) reshapes
        // the `{ status, info, error, details }` that probes and dashboards parse.
        if (!(error instanceof ServiceUnavailableException)) throw error;
        response.status(error.getStatus());
        return error.getResponse();
      }
    }
  }
  return EventCoreHealthController;
}

/**
 * Health in one import. `EventCoreHealthModule.forRoot({ path: 'health' })` serves `GET /health`:
 * 200 with Terminus's report when the event store answers and no projection is faulted (or lags
 * beyond `projections`' thresholds), 503 with the same report shape otherwise.
 *
 * Imported plainly (`imports: [EventCoreHealthModule]`) it only provides
 * {@link EventStoreHealthIndicator} and {@link ProjectionsHealthIndicator}, for a hand-written
 * controller. Needs `EventCoreModule` in the application.
 */
@Module({
  imports: [TerminusModule],
  providers: [EventStoreHealthIndicator, ProjectionsHealthIndicator],
  exports: [EventStoreHealthIndicator, ProjectionsHealthIndicator],
})
export class EventCoreHealthModule {
  /** The indicators and a controller serving them at `options.path`. */
  static forRoot(options: EventCoreHealthOptions = {}): DynamicModule {
    return {
      module: EventCoreHealthModule,
      controllers: [healthControllerAt(options.path ?? 'health', options.projections ?? {})],
    };
  }
}
