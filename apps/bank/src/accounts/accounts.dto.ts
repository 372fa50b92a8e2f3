import { IsInt, IsPositive, IsString, Length, Matches, Max } from 'class-validator';
import { MAX_AMOUNT } from './bank.commands';

/** Account ids as they appear in URLs and bodies. */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const ACCOUNT_ID_MESSAGE = '$property must be 1–64 letters, digits, "-" or "_"';

/** Body of `POST /accounts`. */
export class OpenAccountDto {
  @Matches(ACCOUNT_ID_PATTERN, { message: ACCOUNT_ID_MESSAGE }) accountId!: string;
  @IsString() @Length(1, 100) owner!: string;
}

/** Body of `POST /accounts/:id/deposits` and `/withdrawals`. */
export class AmountDto {
  @IsInt() @IsPositive() @Max(MAX_AMOUNT) amount!: number;
}

/** Body of `POST /transfers`. */
export class TransferDto {
  @Matches(ACCOUNT_ID_PATTERN, { message: ACCOUNT_ID_MESSAGE }) from!: string;
  @Matches(ACCOUNT_ID_PATTERN, { message: ACCOUNT_ID_MESSAGE }) to!: string;
  @IsInt() @IsPositive() @Max(MAX_AMOUNT) amount!: number;
}
