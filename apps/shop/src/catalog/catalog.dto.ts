import { IsInt, IsPositive, IsString, Length, Matches, Max, Min } from 'class-validator';

/** SKUs as they appear in URLs and bodies. */
export const SKU_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Body of `POST /products`. */
export class AddProductDto {
  @Matches(SKU_PATTERN, { message: '$property must be 1–64 letters, digits, "-" or "_"' })
  sku!: string;
  @IsString() @Length(1, 200) name!: string;
  @IsInt() @Min(0) @Max(1_000_000) stock!: number;
}

/** Body of `POST /products/:sku/restock`. */
export class RestockDto {
  @IsInt() @IsPositive() @Max(1_000_000) quantity!: number;
}
