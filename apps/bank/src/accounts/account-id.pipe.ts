import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import { ACCOUNT_ID_PATTERN } from './accounts.dto';

/** Validates an account id taken from the URL. */
@Injectable()
export class AccountIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!ACCOUNT_ID_PATTERN.test(value)) {
      throw new BadRequestException({
        code: 'bank.invalid_request',
        message: 'The request is invalid; see failures.',
        failures: [
          {
            property: 'id',
            constraints: { matches: 'id must be 1–64 letters, digits, "-" or "_"' },
          },
        ],
      });
    }
    return value;
  }
}
