import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { ProjectionStatus } from '@eventcore/core';
import { ProjectionRegistry } from './projection.registry';

/** Thresholds of {@link ProjectionsHealthIndicator.isHealthy}; omitted ones are not checked. */
export interface ProjectionsHealthOptions {
  /** Down when a projection has more unhandled events than this. */
  readonly maxLagEvents?: number;
  /** Down when a projection's oldest unhandled event is older than this. */
  readonly maxLagSeconds?: number;
}

/**
 * Terminus indicator for projections: `down` when any projection is faulted or lags beyond the
 * thresholds, with each projection's state, lag and last error under `projections`. Paused and
 * standby projections are up: both are deliberate. Never throws, so Terminus answers 503, not 500.
 */
@Injectable()
export class ProjectionsHealthIndicator {
  constructor(
    private readonly registry: ProjectionRegistry,
    private readonly health: HealthIndicatorService,
  ) {}

  isHealthy(key = 'projections', options: ProjectionsHealthOptions = {}) {
    const indicator = this.health.check(key);
    try {
      const statuses = this.registry.list();
      const problems = statuses.flatMap((status) => problemsOf(status, options));
      const projections = Object.fromEntries(
        statuses.map((s) => [
          s.name,
          {
            state: s.state,
            lagEvents: s.lagEvents,
            lagSeconds: s.lagSeconds,
            lastError: s.lastError,
          },
        ]),
      );
      return problems.length === 0
        ? indicator.up({ projections })
        : indicator.down({ problems, projections });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}

function problemsOf(status: ProjectionStatus, options: ProjectionsHealthOptions): string[] {
  const problems: string[] = [];
  if (status.state === 'faulted') problems.push(`${status.name} is faulted`);
  if (options.maxLagEvents !== undefined && status.lagEvents > options.maxLagEvents) {
    problems.push(`${status.name} lags ${status.lagEvents} events`);
  }
  if (options.maxLagSeconds !== undefined && status.lagSeconds > options.maxLagSeconds) {
    problems.push(`${status.name} lags ${status.lagSeconds} s`);
  }
  return problems;
}
