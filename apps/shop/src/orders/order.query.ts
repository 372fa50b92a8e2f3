import { Injectable } from '@nestjs/common';
import type { EventStore, RecordedEvent } from '@eventcore/core';
import { InjectEventStore } from '@eventcore/nestjs';
import {
  evolveOrder,
  noOrder,
  type OrderLine,
  type OrderStatus,
  orderStream,
  type ShopEvent,
} from '../catalog/shop.events';

/** An order as the API shows it. */
export interface OrderView {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly lines: readonly OrderLine[];
}

/** Reads an order by folding its stream. */
@Injectable()
export class OrderQuery {
  constructor(@InjectEventStore() private readonly store: EventStore) {}

  async find(orderId: string): Promise<OrderView | undefined> {
    const read = await this.store.readStreams([orderStream(orderId)]);
    const state = read.events.reduce(
      (s, e) => evolveOrder(s, e as RecordedEvent<ShopEvent>),
      noOrder,
    );
    if (state.status === 'none') return undefined;
    return { orderId, status: state.status, lines: state.lines };
  }
}
