import type { ReactionContext, RecordedEvent } from '@eventcore/core';
import { ProcessManager, ProcessManagerHost } from '@eventcore/nestjs';
import type { ShopEvent } from '../catalog/shop.events';
import { CancelOrder, ShipOrder } from './order.commands';

/**
 * Takes a paid order to shipment, and compensates a failed payment by cancelling the order, which
 * releases its stock on every product it reserved.
 */
@ProcessManager({
  name: 'fulfilment',
  streams: ['order-'],
  eventTypes: ['PaymentRecorded'],
  pollIntervalMs: 200,
  // Recommended: payments that arrive within 5 ms of each other share one checkpoint commit.
  batchWindowMs: 5,
})
export class FulfilmentProcessManager extends ProcessManagerHost {
  async react(event: RecordedEvent<ShopEvent>, ctx: ReactionContext): Promise<void> {
    if (event.type !== 'PaymentRecorded') return;
    const orderId = event.streamId.slice('order-'.length);
    if (event.data.succeeded) await ctx.execute(new ShipOrder(orderId));
    else await ctx.execute(new CancelOrder(orderId, 'payment failed'));
  }
}
