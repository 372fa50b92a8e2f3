import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { EventStore } from '@eventcore/core';
import { InjectEventStore } from './inject-event-store.decorator';

/** Stores that can report more than a ping (pool totals, schema version, ...). */
interface StoreWithHealthDetails {
  health(): Promise<Record<string, unknown>>;
}

/**
 * Terminus indicator for the event store: `up` with the ping latency (and the store's own details
 * when it has any), `down` with the error message. Never throws, so Terminus answers 503 rather than 500.
 */
@Injectable()
export class EventStoreHealthIndicator {
  constructor(
    @InjectEventStore() private readonly store: EventStore,
    private readonly health: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'eventStore') {
    const indicator = this.health.check(key);
    const started = performance.now();
    try {
      await this.store.ping();
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      const details = hasHealthDetails(this.store) ? await this.store.health() : {};
      return indicator.up({ latencyMs, ...details });
    } catch (error) {
      return indicator.down({
        message: (error as Error).message,
        code: (error as { code?: string }).code,
      });
    }
  }
}

function hasHealthDetails(store: EventStore): store is EventStore & StoreWithHealthDetails {
  return typeof (store as Partial<StoreWithHealthDetails>).health === 'function';
}
