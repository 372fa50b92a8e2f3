import { BadRequestException } from '@nestjs/common';
import type { ExecuteOptions } from '@eventcore/core';
import { RequestErrorCodes } from './problem-details';

type Headers = Record<string, string | string[] | undefined>;

const HEADER_VALUE = /^[\x21-\x7e]{1,200}$/;

/**
 * Execution options from a request's headers: `X-Correlation-Id` (propagated to every event, and
 * through process managers to the commands they issue) and `Idempotency-Key` (a retried request
 * writes once). The user id is deliberately not read from a header a client controls: take it
 * from your authentication layer and pass it as `userId`.
 * @throws BadRequestException for a header that is not 1–200 visible ASCII characters.
 */
export function executeOptionsFromHeaders(headers: Headers): ExecuteOptions {
  return {
    correlationId: header(headers, 'x-correlation-id'),

    idempotencyKey: header(headers, 'idempotency-key'),
  };
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
    throw new BadRequestException({
      code: RequestErrorCodes.invalidHeader,
      detail: `Header ${name} must be 1–200 visible ASCII characters.`,
      header: name,
    });
  }
  return value;
}
