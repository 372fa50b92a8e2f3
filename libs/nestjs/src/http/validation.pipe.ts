import {
  type ArgumentMetadata,
  Injectable,
  type PipeTransform,
  ValidationPipe,
  type ValidationError,
} from '@nestjs/common';
import {
  checkRequestInput,
  invalidRequest,
  type RequestFailure,
  type RequestLimits,
  requestLimits,
} from './request-limits';
import { RequestErrorCodes } from './problem-details';

export { invalidRequest, type RequestFailure } from './request-limits';

/** Code of the 400 answer for request bodies and parameters that fail validation. */
export const INVALID_REQUEST_CODE = RequestErrorCodes.invalid;

/** Options of {@link eventCoreValidationPipe}. */
export type EventCoreValidationPipeOptions = RequestLimits;

/**
 * A ValidationPipe for EventCore apps. Before class-transformer runs, the input is walked
 * iteratively and refused with a 400 when it nests deeper than `maxDepth`, holds more than
 * `maxValues` values, has a `__proto__`, `constructor` or `prototype` key, or a string no store can
 * hold (NUL, unpaired surrogate). Then unknown fields are refused and a 400 lists every failing
 * field as `{ property, constraints }` under the stable code `request.invalid`.
 * @throws InvalidOptionsError for limits that are not integers >= 1
 */
export class EventCoreValidationPipe extends ValidationPipe {
  private readonly limits: Required<RequestLimits>;

  constructor(options: EventCoreValidationPipeOptions = {}) {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors: ValidationError[]) => invalidRequest(flatten(errors, '')),
    });
    this.limits = requestLimits(options);
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'custom') {
      checkRequestInput(value, metadata.type, metadata.data, this.limits);
    }
    return super.transform(value, metadata);
  }
}

/** The {@link EventCoreValidationPipe}, for `app.useGlobalPipes(eventCoreValidationPipe())`. */
export function eventCoreValidationPipe(
  options: EventCoreValidationPipeOptions = {},
): EventCoreValidationPipe {
  return new EventCoreValidationPipe(options);
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
