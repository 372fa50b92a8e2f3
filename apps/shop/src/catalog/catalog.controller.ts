import { Body, Controller, Get, Headers, NotFoundException, Param, Post } from '@nestjs/common';
import {
  CommandBus,
  executeOptionsFromHeaders,
  PatternPipe,
  type CommandResponse,
  commandResponse,
} from '@eventcore/nestjs';
import { AddProductDto, RestockDto, SKU_PATTERN } from './catalog.dto';
import { AddProduct, RestockProduct } from './catalog.commands';
import { ProductQuery, type ProductView } from './product.query';

type Headers = Record<string, string | string[] | undefined>;

const skuParam = new PatternPipe(
  SKU_PATTERN,
  'sku',
  'sku must be 1–64 letters, digits, "-" or "_"',
);

/** Products and their stock. */
@Controller('products')
export class CatalogController {
  constructor(
    private readonly commands: CommandBus,
    private readonly products: ProductQuery,
  ) {}

  @Post()
  async add(@Body() body: AddProductDto, @Headers() headers: Headers): Promise<CommandResponse> {
    const command = new AddProduct(body.sku, body.name, body.stock);
    return commandResponse(
      await this.commands.execute(command, executeOptionsFromHeaders(headers)),
    );
  }

  @Post(':sku/restock')
  async restock(
    @Param('sku', skuParam) sku: string,
    @Body() body: RestockDto,
    @Headers() headers: Headers,
  ): Promise<CommandResponse> {
    const command = new RestockProduct(sku, body.quantity);
    return commandResponse(
      await this.commands.execute(command, executeOptionsFromHeaders(headers)),
    );
  }

  @Get(':sku')
  async get(@Param('sku', skuParam) sku: string): Promise<ProductView> {
    const product = await this.products.find(sku);
    if (product === undefined)
      throw new NotFoundException({
        code: 'product.not_found',
        message: `Product ${sku} does not exist.`,
      });
    return product;
  }
}
