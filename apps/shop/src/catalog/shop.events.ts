import { type StreamId, streamId } from '@eventcore/core';

/** A line of an order. */
export interface OrderLine {
  readonly sku: string;
  readonly quantity: number;
}

/** Everything that happens in the shop. */
export type ShopEvent =
  | { type: 'ProductAdded'; data: { sku: string; name: string; stock: number } }
  | { type: 'ProductRestocked'; data: { quantity: number } }
  | { type: 'StockReserved'; data: { orderId: string; quantity: number } }
  | { type: 'StockReleased'; data: { orderId: string; quantity: number } }
  | { type: 'OrderPlaced'; data: { orderId: string; lines: OrderLine[] } }
  | { type: 'PaymentRecorded'; data: { succeeded: boolean } }
  | { type: 'OrderShipped'; data: Record<string, never> }
  | { type: 'OrderCancelled'; data: { reason: string } };

/** Business rule identifiers, for HTTP mapping. */
export const ShopRules = {
  productExists: 'product.already_exists',
  productNotFound: 'product.not_found',
  outOfStock: 'product.out_of_stock',
  orderExists: 'order.already_exists',
  orderNotFound: 'order.not_found',
  orderNotPending: 'order.not_pending',
} as const;

export const productStream = (sku: string): StreamId => streamId(`product-${sku}`);
export const orderStream = (orderId: string): StreamId => streamId(`order-${orderId}`);

/** A product's stock as commands see it. */
export interface ProductState {
  readonly exists: boolean;
  readonly available: number;
}

export const noProduct: ProductState = Object.freeze({ exists: false, available: 0 });

/** Folds a product stream event. */
export function evolveProduct(
  state: ProductState,
  event: { type: string; data: unknown },
): ProductState {
  const data = event.data as { stock?: number; quantity?: number };
  switch (event.type) {
    case 'ProductAdded':
      return { exists: true, available: data.stock ?? 0 };
    case 'ProductRestocked':
    case 'StockReleased':
      return { ...state, available: state.available + (data.quantity ?? 0) };
    case 'StockReserved':
      return { ...state, available: state.available - (data.quantity ?? 0) };
    default:
      return state;
  }
}

/** Where an order is in its life. */
export type OrderStatus = 'none' | 'pending' | 'paid' | 'shipped' | 'cancelled';

/** An order as commands see it. */
export interface OrderState {
  readonly status: OrderStatus;
  readonly lines: readonly OrderLine[];
}

export const noOrder: OrderState = Object.freeze({ status: 'none', lines: [] });

/** Folds an order stream event. */
export function evolveOrder(state: OrderState, event: { type: string; data: unknown }): OrderState {
  switch (event.type) {
    case 'OrderPlaced':
      return { status: 'pending', lines: (event.data as { lines: OrderLine[] }).lines };
    case 'PaymentRecorded':
      return (event.data as { succeeded: boolean }).succeeded
        ? { ...state, status: 'paid' }
        : state;
    case 'OrderShipped':
      return { ...state, status: 'shipped' };
    case 'OrderCancelled':
      return { ...state, status: 'cancelled' };
    default:
      return state;
  }
}
