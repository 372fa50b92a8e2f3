import { Injectable } from '@nestjs/common';
import type { EventStore, RecordedEvent } from '@eventcore/core';
import { InjectEventStore } from '@eventcore/nestjs';
import { evolveProduct, noProduct, productStream, type ShopEvent } from './shop.events';

/** A product's stock as the API shows it. */
export interface ProductView {
  readonly sku: string;
  readonly available: number;
  readonly version: number;
}

/** Reads a product by folding its stream (strongly consistent). */
@Injectable()
export class ProductQuery {
  constructor(@InjectEventStore() private readonly store: EventStore) {}

  async find(sku: string): Promise<ProductView | undefined> {
    const stream = productStream(sku);
    const read = await this.store.readStreams([stream]);
    const state = read.events.reduce(
      (s, e) => evolveProduct(s, e as RecordedEvent<ShopEvent>),
      noProduct,
    );
    if (!state.exists) return undefined;
    return { sku, available: state.available, version: read.versions.get(stream) ?? 0 };
  }
}
