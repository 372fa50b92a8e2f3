import {
  BadRequestException,
  Injectable,
  type PipeTransform,
  ValidationPipe,
  type ValidationError,
} from '@nestjs/common';

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
    exceptionFactory: (errors: ValidationError[]) => invalidRequest(flatten(errors, '')),
  });
}

/** One failing field of a request. */
export interface RequestFailure {
  readonly property: string;
  readonly constraints: Record<string, string>;
}

/** The 400 every EventCore HTTP helper answers for invalid input, listing the failing fields. */
export function invalidRequest(failures: readonly RequestFailure[]): BadRequestException {
  return new BadRequestException({
    statusCode: 400,
    code: INVALID_REQUEST_CODE,
    message: 'The request is invalid; see failures.',
    failures,
  });
}

/**
 * Validates a path or query parameter against a pattern: `@Param('id', new PatternPipe(ID, 'id'))`.
 * A mismatch is the same 400 as a body that fails validation.
 */
@Injectable()
export class PatternPipe implements PipeTransform<string, string> {
  constructor(
    private readonly pattern: RegExp,
    private readonly property: string,
    private readonly rule = `${property} must match ${String(pattern)}`,
  ) {}

  transform(value: string): string {
    if (typeof value !== 'string' || !this.pattern.test(value)) {
      throw invalidRequest([{ property: this.property, constraints: { matches: this.rule } }]);
    }
    return value;
  }
}

function flatten(errors: ValidationError[], prefix: string): RequestFailure[] {
  return errors.flatMap((e) => {
    const property = prefix ? `${prefix}.${e.property}` : e.property;
    const own = e.constraints ? [{ property, constraints: e.constraints }] : [];
    return [...own, ...flatten(e.children ?? [], property)];
  });
}
