import { type DynamicModule, Module } from '@nestjs/common';
import type { CheckpointStore, EventStore, ProjectionLock } from '@eventcore/core';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { AdminTokenModule, EventCoreHealthModule, EventCoreModule } from '@eventcore/nestjs';
import { AccountsModule } from './accounts/accounts.module';
import { MetricsController, PROMETHEUS_EXPORTER } from './metrics/metrics.controller';
import type { BalanceReadModel } from './read-model/balance-read-model';
import { InMemoryBalanceReadModel } from './read-model/in-memory.balance-read-model';
import { ReadModelModule } from './read-model/read-model.module';

/** Options of the sample bank. */
export interface BankAppOptions {
  /** @default an in-memory store */
  readonly eventStore?: EventStore;
  /** Projection checkpoints; a transactional (PostgreSQL) one makes the read model exactly-once. @default in memory */
  readonly checkpointStore?: CheckpointStore;
  /** Elects the instance that runs each projection. @default this process only */
  readonly projectionLock?: ProjectionLock;
  /** Where the balances projection writes; must match the checkpoint store (SQL with PostgreSQL). @default in memory */
  readonly balances?: BalanceReadModel;
  /** Called once the app has shut down: closes what the caller opened for it (listeners, locks). */
  readonly onShutdown?: () => Promise<void>;
  /** Serve these metrics at `/metrics` (see `registerPrometheusMetrics`). @default no endpoint */
  readonly metrics?: PrometheusExporter;
  /**
   * Bearer token of the administrative routes (`/projections`: status, pause, resume, rebuild);
   * at least 16 characters. Without one they answer 403 to everyone.
   * @default process.env.EVENTCORE_ADMIN_TOKEN
   */
  readonly adminToken?: string;
}

/** The sample bank application. */
@Module({})
export class BankAppModule {
  static forRoot(options: BankAppOptions = {}): DynamicModule {
    return {
      module: BankAppModule,
      imports: [
        EventCoreModule.forRoot({
          eventStore: options.eventStore,
          // Recommended: a command on a stream this instance has seen appends without reading it
          // first (one round trip); a stale entry only costs a conflict and a read.
          executor: { stateCache: { maxEntries: 10_000 } },
          checkpointStore: options.checkpointStore,
          projectionLock: options.projectionLock,
          // After the projections have stopped and the store is closed.
          afterShutdown: options.onShutdown,
        }),
        AdminTokenModule.forRoot(options.adminToken ?? process.env.EVENTCORE_ADMIN_TOKEN),
        AccountsModule,
        ReadModelModule.forRoot(options.balances ?? new InMemoryBalanceReadModel()),
        // GET /health: the store and every projection (faulted, or a minute behind, is down).
        EventCoreHealthModule.forRoot({ path: 'health', projections: { maxLagSeconds: 60 } }),
      ],
      providers: [
        ...(options.metrics ? [{ provide: PROMETHEUS_EXPORTER, useValue: options.metrics }] : []),
      ],
      controllers: options.metrics ? [MetricsController] : [],
    };
  }
}
