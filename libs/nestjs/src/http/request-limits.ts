import { BadRequestException, HttpException, HttpStatus } from '@nestjs/common';
import { ErrorMessages, InvalidOptionsError, unstorableTextReason } from '@eventcore/core';
import { RequestErrorCodes } from './problem-details';

/** Limits on the shape of request input, checked before class-transformer sees it. */
export interface RequestLimits {
  /**
   * Deepest nesting of objects and arrays accepted in a body, query or parameter. class-transformer
   * recurses once per level: a few thousand levels (a 4 KB body) overflow the stack.
   * @default 32
   */
  readonly maxDepth?: number;
  /**
   * Most values (object members and array elements, counted at every level) accepted in one body,
   * query or parameter: bounds the work of transforming and validating a request.
   * @default 10000
   */
  readonly maxValues?: number;
}

/** One failing field of a request. */
export interface RequestFailure {
  readonly property: string;
  readonly constraints: Record<string, string>;
}

/** Where the checked input came from, as Nest's `ArgumentMetadata.type` names it. */
export type RequestInputSource = 'body' | 'query' | 'param';

const DEFAULT_MAX_DEPTH = 32;
const DEFAULT_MAX_VALUES = 10_000;
/** Keys that name prototype machinery: refused, as class-transformer would drop them silently. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** A report lists at most this many fields; the first ones are enough to fix the request. */
const MAX_FAILURES = 20;

/** Checks and completes limits with their defaults. @throws InvalidOptionsError */
export function requestLimits(limits: RequestLimits = {}): Required<RequestLimits> {
  const resolved = {
    maxDepth: limits.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxValues: limits.maxValues ?? DEFAULT_MAX_VALUES,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new InvalidOptionsError('request limits', `${name} must be an integer >= 1`);
    }
  }
  return resolved;
}

/**
 * Walks request input iteratively (no recursion: the depth it refuses cannot overflow it) and
 * refuses, before any transformation: nesting deeper than `maxDepth`, more than `maxValues`
 * values, keys `__proto__`, `constructor` and `prototype` (unknown properties, which
 * class-transformer would drop without a word), and strings or keys no store can hold (a NUL
 * character, an unpaired surrogate), naming each field.
 * @param name the parameter's name for a single `@Param('id')` or `@Body('field')`, else undefined
 * @throws HttpException 400 `request.too_deep`, `request.too_many_values` or `request.invalid`
 */
export function checkRequestInput(
  value: unknown,
  source: RequestInputSource,
  name: string | undefined,
  limits: Required<RequestLimits>,
): void {
  const failures: RequestFailure[] = [];
  const prefix = name ?? '';
  checkString(value, prefix, failures);
  if (typeof value !== 'object' || value === null) {
    if (failures.length > 0) throw invalidRequest(failures);
    return;
  }
  const stack: { value: object; path: string; depth: number }[] = [
    { value, path: prefix, depth: 1 },
  ];
  let values = 0;
  while (stack.length > 0) {
    const { value: object, path, depth } = stack.pop()!;
    if (depth > limits.maxDepth) {
      throw problem(
        RequestErrorCodes.tooDeep,
        `The ${describe(source)} nests objects and arrays deeper than ${limits.maxDepth} levels. Send flatter data.`,
        { maxDepth: limits.maxDepth },
      );
    }
    const keys = Object.keys(object);
    values += keys.length;
    if (values > limits.maxValues) {
      throw problem(
        RequestErrorCodes.tooManyValues,
        `The ${describe(source)} holds more than ${limits.maxValues} values (object members and array elements). Send less in one request.`,
        { maxValues: limits.maxValues },
      );
    }
    const isArray = Array.isArray(object);
    for (const key of keys) {
      const property = path === '' ? key : `${path}.${key}`;
      if (!isArray) {
        if (FORBIDDEN_KEYS.has(key)) {
          failures.push({
            property,
            constraints: { whitelistValidation: `property ${key} should not exist` },
          });
        } else {
          checkString(key, property, failures, path);
        }
      }
      const child = (object as Record<string, unknown>)[key];
      if (typeof child === 'string') checkString(child, property, failures);
      else if (typeof child === 'object' && child !== null) {
        stack.push({ value: child, path: property, depth: depth + 1 });
      }
    }
  }
  if (failures.length > 0) throw invalidRequest(failures.slice(0, MAX_FAILURES));
}

function checkString(
  value: unknown,
  property: string,
  failures: RequestFailure[],
  /** For a key: the path of the object that has it. */
  keyOf?: string,
): void {
  if (typeof value !== 'string') return;
  // The stores' own rule (NUL, unpaired surrogates), so the pipe refuses exactly what they would.
  const reason = unstorableTextReason(value);
  if (reason === undefined) return;
  const subject =
    keyOf === undefined
      ? property || 'the value'
      : `the key ${JSON.stringify(value)}${keyOf === '' ? '' : ` of ${keyOf}`}`;
  failures.push({
    property,
    constraints: { storableText: `${subject} ${ErrorMessages.storableText(reason)}` },
  });
}

function describe(source: RequestInputSource): string {
  return source === 'body' ? 'request body' : source === 'query' ? 'query' : 'path parameter';
}

/**
 * An HTTP error the {@link EventCoreExceptionFilter} answers as a problem with this `code`,
 * `detail` and extra members.
 */
export function problem(
  code: string,
  detail: string,
  members: Record<string, unknown> = {},
  status: number = HttpStatus.BAD_REQUEST,
): HttpException {
  return new HttpException({ ...members, code, detail }, status);
}

/** The 400 every EventCore HTTP helper answers for invalid input, listing the failing fields. */
export function invalidRequest(failures: readonly RequestFailure[]): BadRequestException {
  return new BadRequestException({
    code: RequestErrorCodes.invalid,
    detail:
      'The request is invalid; see failures for each field and fix them before sending it again.',
    failures,
  });
}
