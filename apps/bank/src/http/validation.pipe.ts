import { BadRequestException, ValidationPipe, type ValidationError } from '@nestjs/common';

/**
 * The app's ValidationPipe: unknown fields are refused, and a 400 lists every failing field as
 * `{ property, constraints }` under a stable code.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors: ValidationError[]) =>
      new BadRequestException({
        statusCode: 400,
        code: 'bank.invalid_request',
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
