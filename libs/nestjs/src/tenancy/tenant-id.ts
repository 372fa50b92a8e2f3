import { InvalidTenantIdError } from './tenancy.errors';

/** Longest tenant id: with the default `tenant_` prefix the schema name stays within 40 characters. */
export const MAX_TENANT_ID_LENGTH = 32;

const TENANT_ID = /^[a-z][a-z0-9_]*$/;

/**
 * Checks a tenant id where it enters the application (a token claim, a header, an admin call) and
 * returns it unchanged. Ids are never normalised: `" acme"` or `"ACME"` is refused, not fixed,
 * so that two spellings can never reach one tenant's data.
 * @throws InvalidTenantIdError naming what is wrong
 */
export function checkTenantId(value: unknown): string {
  if (typeof value !== 'string') throw new InvalidTenantIdError(value, 'it is not a string');
  if (value.length === 0) throw new InvalidTenantIdError(value, 'it is empty');
  if (value.length > MAX_TENANT_ID_LENGTH) {
    throw new InvalidTenantIdError(value, `it has more than ${MAX_TENANT_ID_LENGTH} characters`);
  }
  if (!TENANT_ID.test(value)) {
    throw new InvalidTenantIdError(
      value,
      'it has a character outside [a-z0-9_] or does not start with a letter',
    );
  }
  return value;
}
