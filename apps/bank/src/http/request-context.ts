import type { ExecuteOptions } from '@eventcore/core';
import { BadRequestException } from '@nestjs/common';

const HEADER_VALUE = /^[\x21-\x7e]{1,200}$/;

/**
 * Execution options from the request's headers: `X-Correlation-Id` (propagated to every event) and
 * `Idempotency-Key` (a retried request writes once).
 */
export function executeOptionsFrom(
  headers: Record<string, string | string[] | undefined>,
): ExecuteOptions {
  return {
    correlationId: header(headers, 'x-correlation-id'),
    idempotencyKey: header(headers, 'idempotency-key'),
  };
}

function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
    throw new BadRequestException({
      code: 'bank.invalid_header',
      message: `Header ${name} must be 1–200 visible ASCII characters.`,
    });
  }
  return value;
}
