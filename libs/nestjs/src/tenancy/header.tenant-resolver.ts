import { InvalidOptionsError } from '@eventcore/core';
import { InvalidTenantIdError, TenantUnresolvedError } from './tenancy.errors';
import type { TenantRequest, TenantResolver } from './tenant-resolver';

/** Options of {@link HeaderTenantResolver}. */
export interface HeaderTenantResolverOptions {
  /** The header naming the tenant, in lower case. @default 'x-tenant-id' */
  readonly header?: string;
}

/**
 * FOR TRUSTED PROXIES ONLY: takes the tenant from a request header as is. Any client that can
 * reach the application directly can then act as any tenant by sending the header, so use it only
 * behind a gateway that authenticates the caller, sets the header itself and strips the client's.
 * Everywhere else use {@link JwtClaimTenantResolver}.
 */
export class HeaderTenantResolver implements TenantResolver {
  private readonly header: string;

  constructor(options: HeaderTenantResolverOptions = {}) {
    const header = options.header ?? 'x-tenant-id';
    if (typeof header !== 'string' || !/^[a-z0-9-]+$/.test(header)) {
      throw new InvalidOptionsError('header', 'use a lower-case header name, e.g. "x-tenant-id"');
    }
    this.header = header;
  }

  /** The header's value, as sent. @throws TenantUnresolvedError when it is missing */
  resolve(request: TenantRequest): string {
    const value = request.headers[this.header];
    if (value === undefined) throw new TenantUnresolvedError(`no "${this.header}" header`);
    // Node joins a repeated header into "a, b", which the id check refuses; an adapter that hands
    // over an array is refused here: two values are two tenants, never one.
    if (typeof value !== 'string') {
      throw new InvalidTenantIdError(value, `the "${this.header}" header is sent more than once`);
    }
    return value;
  }
}
