import {
  Command,
  type CommandContext,
  type CommandLogic,
  type RecordedEvent,
  Stream,
  type StreamId,
} from '@eventcore/core';
import { IsInt, IsPositive, IsString, Length, Max, Min } from 'class-validator';
import {
  evolveProduct,
  noProduct,
  type ProductState,
  productStream,
  type ShopEvent,
  ShopRules,
} from './shop.events';

/** Commands on one product stream. */
abstract class ProductCommand implements CommandLogic<ProductState, ShopEvent> {
  initialState(): ProductState {
    return noProduct;
  }

  apply(state: ProductState, event: RecordedEvent<ShopEvent>): ProductState {
    return evolveProduct(state, event);
  }

  abstract handle(state: ProductState, ctx: CommandContext<ShopEvent>): void;
}

/** Adds a product with its initial stock. */
@Command()
export class AddProduct extends ProductCommand {
  @Stream() product: StreamId;
  @IsString() @Length(1, 64) sku: string;
  @IsString() @Length(1, 200) name: string;
  @IsInt() @Min(0) @Max(1_000_000) stock: number;

  constructor(sku: string, name: string, stock: number) {
    super();
    this.product = productStream(sku);
    this.sku = sku;
    this.name = name;
    this.stock = stock;
  }

  handle(state: ProductState, ctx: CommandContext<ShopEvent, AddProduct>): void {
    ctx.require(!state.exists, `product ${this.sku} already exists`, ShopRules.productExists);
    ctx.emit('product', {
      type: 'ProductAdded',
      data: { sku: this.sku, name: this.name, stock: this.stock },
    });
  }
}

/** Adds stock to an existing product. */
@Command()
export class RestockProduct extends ProductCommand {
  @Stream() product: StreamId;
  @IsInt() @IsPositive() @Max(1_000_000) quantity: number;

  constructor(sku: string, quantity: number) {
    super();
    this.product = productStream(sku);
    this.quantity = quantity;
  }

  handle(state: ProductState, ctx: CommandContext<ShopEvent, RestockProduct>): void {
    ctx.require(state.exists, 'the product does not exist', ShopRules.productNotFound);
    ctx.emit('product', { type: 'ProductRestocked', data: { quantity: this.quantity } });
  }
}
