import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

/** Query of `GET /read-model/accounts`. */
export class ReadModelQueryDto {
  /**
   * `eventual` reads now; `strong` first waits until the read model has passed `position` (the
   * `position` a write answered with).
   */
  @IsOptional() @IsIn(['eventual', 'strong']) consistency?: 'eventual' | 'strong';
  @IsOptional()
  @Matches(/^[\x21-\x7e]{1,100}$/, { message: 'position must be a position token' })
  position?: string;
  /** How long a strong read may wait before answering 503. @default 5000 */
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(30_000) timeoutMs?: number;
}
