import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { OldestWriteTransaction, ProjectionStatus } from '@eventcore/core';
import {
  describeBlocking,
  type LogHoldBackStatus,
  LogHoldBackMonitor,
} from './log-hold-back.monitor';
import { ProjectionRegistry } from './projection.registry';

/** Thresholds of {@link ProjectionsHealthIndicator.isHealthy}; omitted ones are not checked. */
export interface ProjectionsHealthOptions {
  /** Down when a projection has more unhandled events than this. */
  readonly maxLagEvents?: number;
  /** Down when a projection's oldest unhandled event is older than this. */
  readonly maxLagSeconds?: number;
  /**
   * Down when committed events have waited longer than this behind an open write transaction
   * (anywhere on the database server), which holds every subscriber back; the problem names that
   * transaction. Needs a store that can tell (PostgreSQL).
   */
  readonly maxHeldBackSeconds?: number;
}

/**
 * Terminus indicator for projections: `down` when any projection is faulted or lags beyond the
 * thresholds, or the log has been held back beyond `maxHeldBackSeconds`, with each projection's
 * state, lag and last error under `projections` and, with a store that can tell (PostgreSQL), the
 * hold-back under `logHeldBack` (seconds, and the blocking transaction: pid, database, application,
 * state, age — or "unknown" when the store's role cannot see it). Paused and standby projections
 * are up: both are deliberate. Never throws, so Terminus answers 503, not 500.
 */
@Injectable()
export class ProjectionsHealthIndicator {
  constructor(
    private readonly registry: ProjectionRegistry,
    private readonly health: HealthIndicatorService,
    private readonly heldBack: LogHoldBackMonitor,
  ) {}

  isHealthy(key = 'projections', options: ProjectionsHealthOptions = {}) {
    const indicator = this.health.check(key);
    try {
      const statuses = this.registry.list();
      const problems = statuses.flatMap((status) => problemsOf(status, options));
      const heldBack = this.heldBack.latest();
      const max = options.maxHeldBackSeconds;
      if (heldBack !== undefined && max !== undefined && heldBack.heldBackSeconds > max) {
        problems.push(
          `the log is held back ${Math.round(heldBack.heldBackSeconds)} s by ${describeBlocking(heldBack.blocking)}`,
        );
      }
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
      const details: Record<string, unknown> =
        heldBack === undefined
          ? { projections }
          : { projections, logHeldBack: detailsOf(heldBack) };
      return problems.length === 0
        ? indicator.up(details)
        : indicator.down({ problems, ...details });
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

/** The hold-back as health details: the transaction's fields, or "unknown: <why>" — never 0 s. */
function detailsOf(status: LogHoldBackStatus) {
  return {
    seconds: status.heldBackSeconds,
    blocking: blockingDetails(status.blocking),
    checkedAt: status.checkedAt,
  };
}

function blockingDetails(blocking: OldestWriteTransaction) {
  return blocking.known ? blocking.transaction : `unknown: ${blocking.reason}`;
}
