import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  Matches,
  ValidateNested,
} from 'class-validator';
import { SKU_PATTERN } from '../catalog/catalog.dto';
import { OrderLineInput } from './order.commands';

/** Body of `POST /orders`. */
export class PlaceOrderDto {
  @Matches(SKU_PATTERN, { message: '$property must be 1–64 letters, digits, "-" or "_"' })
  orderId!: string;
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => OrderLineInput)
  lines!: OrderLineInput[];
}

/** Body of `POST /orders/:id/payment`: the payment provider's answer. */
export class PaymentDto {
  @IsBoolean() succeeded!: boolean;
}
