import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { EventStoreHealthIndicator, ProjectionsHealthIndicator } from '@eventcore/nestjs';

/** `GET /health`: 200 when every indicator is up, 503 otherwise (Terminus). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly eventStore: EventStoreHealthIndicator,
    private readonly projections: ProjectionsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.eventStore.isHealthy('eventStore'),
      () => this.projections.isHealthy('projections', { maxLagSeconds: 60 }),
    ]);
  }
}
