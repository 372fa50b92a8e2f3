import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import { INVALID_REQUEST_CODE } from '@eventcore/nestjs';
import { SKU_PATTERN } from './catalog.dto';

/** Validates an id taken from the URL (SKUs and order ids share the pattern). */
@Injectable()
export class SkuPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!SKU_PATTERN.test(value)) {
      throw new BadRequestException({
        statusCode: 400,
        code: INVALID_REQUEST_CODE,
        message: 'The request is invalid; see failures.',
        failures: [
          { property: 'id', constraints: { matches: 'ids are 1–64 letters, digits, "-" or "_"' } },
        ],
      });
    }
    return value;
  }
}
