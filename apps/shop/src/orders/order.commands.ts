import {
  Command,
  type CommandContext,
  type CommandLogic,
  type RecordedEvent,
  Stream,
  type StreamId,
} from '@eventcore/core';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsPositive,
  IsString,
  Length,
  Matches,
  Max,
  ValidateNested,
} from 'class-validator';
import {
  evolveOrder,
  evolveProduct,
  noOrder,
  noProduct,
  type OrderLine,
  type OrderState,
  orderStream,
  type ProductState,
  productStream,
  type ShopEvent,
  ShopRules,
} from '../catalog/shop.events';

/** One line of an order, as validated input. */
export class OrderLineInput implements OrderLine {
  @IsString() @Matches(/^[A-Za-z0-9_-]{1,64}$/) sku!: string;
  @IsInt() @IsPositive() @Max(10_000) quantity!: number;

  static of(sku: string, quantity: number): OrderLineInput {
    return Object.assign(new OrderLineInput(), { sku, quantity });
  }
}

/** State of a command that reads an order and the products it names. */
interface OrderAndProducts {
  readonly order: OrderState;
  readonly products: Readonly<Record<string, ProductState>>;
}

const emptyOrderAndProducts: OrderAndProducts = { order: noOrder, products: {} };

function evolveOrderAndProducts(
  state: OrderAndProducts,
  event: RecordedEvent<ShopEvent>,
): OrderAndProducts {
  if (event.streamId.startsWith('order-'))
    return { ...state, order: evolveOrder(state.order, event) };
  const product = evolveProduct(state.products[event.streamId] ?? noProduct, event);
  return { ...state, products: { ...state.products, [event.streamId]: product } };
}

/** Commands that read only the order stream. */
abstract class OrderCommand implements CommandLogic<OrderState, ShopEvent> {
  initialState(): OrderState {
    return noOrder;
  }

  apply(state: OrderState, event: RecordedEvent<ShopEvent>): OrderState {
    return evolveOrder(state, event);
  }

  abstract handle(state: OrderState, ctx: CommandContext<ShopEvent>): void;
}

/** Commands that read the order and the product streams it names (discovered or declared). */
abstract class OrderAndProductsCommand implements CommandLogic<OrderAndProducts, ShopEvent> {
  initialState(): OrderAndProducts {
    return emptyOrderAndProducts;
  }

  apply(state: OrderAndProducts, event: RecordedEvent<ShopEvent>): OrderAndProducts {
    return evolveOrderAndProducts(state, event);
  }

  abstract handle(state: OrderAndProducts, ctx: CommandContext<ShopEvent>): void;
}

/** Quantity per SKU, merging repeated lines. */
function quantities(lines: readonly OrderLine[]): Map<string, number> {
  const total = new Map<string, number>();
  for (const line of lines) total.set(line.sku, (total.get(line.sku) ?? 0) + line.quantity);
  return total;
}

/**
 * Places an order and reserves stock on every product it names — all or nothing. The product
 * streams are discovered from the lines, so the consistency boundary is the order plus a variable
 * set of products, checked and written in one atomic append.
 */
@Command()
export class PlaceOrder extends OrderAndProductsCommand {
  @Stream() order: StreamId;
  @IsString() @Matches(/^[A-Za-z0-9_-]{1,64}$/) orderId: string;
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => OrderLineInput)
  lines: OrderLineInput[];

  constructor(orderId: string, lines: OrderLineInput[]) {
    super();
    this.order = orderStream(orderId);
    this.orderId = orderId;
    this.lines = lines;
  }

  handle(state: OrderAndProducts, ctx: CommandContext<ShopEvent, PlaceOrder>): void {
    ctx.require(
      state.order.status === 'none',
      `order ${this.orderId} already exists`,
      ShopRules.orderExists,
    );
    const wanted = quantities(this.lines);
    ctx.discover(...[...wanted.keys()].map(productStream));
    for (const [sku, quantity] of wanted) {
      const product = state.products[productStream(sku)] ?? noProduct;
      ctx.require(product.exists, `product ${sku} does not exist`, ShopRules.productNotFound);
      ctx.require(
        product.available >= quantity,
        `only ${product.available} of ${sku} left`,
        ShopRules.outOfStock,
      );
    }
    for (const [sku, quantity] of wanted) {
      ctx.emitTo(productStream(sku), {
        type: 'StockReserved',
        data: { orderId: this.orderId, quantity },
      });
    }
    const lines = [...wanted].map(([sku, quantity]) => ({ sku, quantity }));
    ctx.emit('order', { type: 'OrderPlaced', data: { orderId: this.orderId, lines } });
  }
}

/** Records the payment provider's answer for a pending order. */
@Command()
export class RecordPayment extends OrderCommand {
  @Stream() order: StreamId;
  @IsBoolean() succeeded: boolean;

  constructor(orderId: string, succeeded: boolean) {
    super();
    this.order = orderStream(orderId);
    this.succeeded = succeeded;
  }

  handle(state: OrderState, ctx: CommandContext<ShopEvent, RecordPayment>): void {
    ctx.require(state.status !== 'none', 'the order does not exist', ShopRules.orderNotFound);
    ctx.require(
      state.status === 'pending',
      `the order is ${state.status}, not pending`,
      ShopRules.orderNotPending,
    );
    ctx.emit('order', { type: 'PaymentRecorded', data: { succeeded: this.succeeded } });
  }
}

/** Ships a paid order. */
@Command()
export class ShipOrder extends OrderCommand {
  @Stream() order: StreamId;

  constructor(orderId: string) {
    super();
    this.order = orderStream(orderId);
  }

  handle(state: OrderState, ctx: CommandContext<ShopEvent, ShipOrder>): void {
    ctx.require(
      state.status === 'paid',
      `the order is ${state.status}, not paid`,
      ShopRules.orderNotPending,
    );
    ctx.emit('order', { type: 'OrderShipped', data: {} });
  }
}

/**
 * Cancels a pending order and releases its stock (the compensation when payment fails). The
 * product streams come from the stored order, discovered while deciding.
 */
@Command()
export class CancelOrder extends OrderAndProductsCommand {
  @Stream() order: StreamId;
  @IsString() @Matches(/^[A-Za-z0-9_-]{1,64}$/) orderId: string;
  @IsString() @Length(1, 200) reason: string;

  constructor(orderId: string, reason: string) {
    super();
    this.order = orderStream(orderId);
    this.reason = reason;
    this.orderId = orderId;
  }

  handle(state: OrderAndProducts, ctx: CommandContext<ShopEvent, CancelOrder>): void {
    ctx.require(state.order.status !== 'none', 'the order does not exist', ShopRules.orderNotFound);
    ctx.require(
      state.order.status === 'pending',
      `the order is ${state.order.status}, not pending`,
      ShopRules.orderNotPending,
    );
    ctx.discover(...state.order.lines.map((line) => productStream(line.sku)));
    for (const line of state.order.lines) {
      ctx.emitTo(productStream(line.sku), {
        type: 'StockReleased',
        data: { orderId: this.orderId, quantity: line.quantity },
      });
    }
    ctx.emit('order', { type: 'OrderCancelled', data: { reason: this.reason } });
  }
}
