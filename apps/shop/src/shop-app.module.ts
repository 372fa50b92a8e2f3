import { type DynamicModule, Module } from '@nestjs/common';
import type { CheckpointStore, EventStore, ProjectionLock } from '@eventcore/core';
import { EventCoreHealthModule, EventCoreModule } from '@eventcore/nestjs';
import { CatalogController } from './catalog/catalog.controller';
import { ProductQuery } from './catalog/product.query';
import { FulfilmentProcessManager } from './orders/fulfilment.process-manager';
import { OrderQuery } from './orders/order.query';
import { OrdersController } from './orders/orders.controller';

/** Options of the sample shop. */
export interface ShopAppOptions {
  /** @default an in-memory store */
  readonly eventStore?: EventStore;
  /** Where the fulfilment process manager keeps its checkpoint. @default in memory */
  readonly checkpointStore?: CheckpointStore;
  /** Elects the instance that runs the process manager. @default this process only */
  readonly projectionLock?: ProjectionLock;
  /** Runs after the app has shut down: closes what the caller opened for it. */
  readonly onShutdown?: () => Promise<void>;
}

/** The sample shop: a catalog, orders that reserve stock across products, and fulfilment. */
@Module({})
export class ShopAppModule {
  static forRoot(options: ShopAppOptions = {}): DynamicModule {
    return {
      module: ShopAppModule,
      imports: [
        EventCoreModule.forRoot({
          eventStore: options.eventStore,
          // Recommended: a command on a stream this instance has seen appends without reading it
          // first (one round trip); a stale entry only costs a conflict and a read.
          executor: { stateCache: { maxEntries: 10_000 } },
          checkpointStore: options.checkpointStore,
          projectionLock: options.projectionLock,
          afterShutdown: options.onShutdown,
        }),
        // GET /health: the store and every projection (faulted, or a minute behind, is down).
        EventCoreHealthModule.forRoot({ path: 'health', projections: { maxLagSeconds: 60 } }),
      ],
      controllers: [CatalogController, OrdersController],
      providers: [ProductQuery, OrderQuery, FulfilmentProcessManager],
    };
  }
}
