import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { EventStoreHealthIndicator, ProjectionsHealthIndicator } from '@eventcore/nestjs';

/** `GET /health`: the event store and the fulfilment process manager (faulted or lagging is down). */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly eventStore: EventStoreHealthIndicator,
    private readonly workers: ProjectionsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.eventStore.isHealthy('eventStore'),
      () => this.workers.isHealthy('processManagers', { maxLagSeconds: 60 }),
    ]);
  }
}
