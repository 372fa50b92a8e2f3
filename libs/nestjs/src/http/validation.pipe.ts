import { BadRequestException, ValidationPipe, type ValidationError } from '@nestjs/common';

/** Code of the 400 answer for request bodies and parameters that fail validation. */
export const INVALID_REQUEST_CODE = 'request.invalid';

/**
 * A ValidationPipe for EventCore apps: unknown fields are refused, and a 400 lists every failing
 * field as `{ property, constraints }` under the stable code `request.invalid`.
 */
export function eventCoreValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors: ValidationError[]) =>
      new BadRequestException({
        statusCode: 400,
        code: INVALID_REQUEST_CODE,
        message: 'The request is invalid; see failures.',
        failures: flatten(errors, ''),
      }),
  });
}

function flatten(
  errors: ValidationError[],
  prefix: string,
): { property: string; constraints: Record<string, string> }[] {
  return errors.flatMap((e) => {
    const property = prefix ? `${prefix}.${e.property}` : e.property;
    const own = e.constraints ? [{ property, constraints: e.constraints }] : [];
    return [...own, ...flatten(e.children ?? [], property)];
  });
}
