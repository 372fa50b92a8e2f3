import { Body, Controller, Get, Headers, NotFoundException, Param, Post } from '@nestjs/common';
import {
  CommandBus,
  type CommandResponse,
  commandResponse,
  executeOptionsFromHeaders,
  PatternPipe,
} from '@eventcore/nestjs';
import { SKU_PATTERN } from '../catalog/catalog.dto';
import { PlaceOrder, RecordPayment } from './order.commands';
import { OrderQuery, type OrderView } from './order.query';
import { PaymentDto, PlaceOrderDto } from './orders.dto';

type Headers = Record<string, string | string[] | undefined>;

const orderId = new PatternPipe(SKU_PATTERN, 'id', 'id must be 1–64 letters, digits, "-" or "_"');

/** Orders: placing one reserves stock on every product it names, all or nothing. */
@Controller('orders')
export class OrdersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly orders: OrderQuery,
  ) {}

  @Post()
  async place(@Body() body: PlaceOrderDto, @Headers() headers: Headers): Promise<CommandResponse> {
    const command = new PlaceOrder(body.orderId, body.lines);
    return commandResponse(
      await this.commands.execute(command, executeOptionsFromHeaders(headers)),
    );
  }

  /** The payment provider's callback; the fulfilment process manager takes it from there. */
  @Post(':id/payment')
  async pay(
    @Param('id', orderId) id: string,
    @Body() body: PaymentDto,
    @Headers() headers: Headers,
  ): Promise<CommandResponse> {
    const command = new RecordPayment(id, body.succeeded);
    return commandResponse(
      await this.commands.execute(command, executeOptionsFromHeaders(headers)),
    );
  }

  @Get(':id')
  async get(@Param('id', orderId) id: string): Promise<OrderView> {
    const order = await this.orders.find(id);
    if (order === undefined)
      throw new NotFoundException({
        code: 'order.not_found',
        message: `Order ${id} does not exist.`,
      });
    return order;
  }
}
