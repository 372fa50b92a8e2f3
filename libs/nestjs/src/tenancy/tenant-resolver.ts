/** The part of an HTTP request a resolver reads (Express and Fastify requests both fit). */
export interface TenantRequest {
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/**
 * Decides the tenant of an HTTP request, once per request, before any handler runs. Return the
 * tenant id (it is then checked with `checkTenantId`), or throw: `TenantUnresolvedError` (401) when
 * the request carries no acceptable credential. Derive the tenant from an authenticated identity
 * ({@link JwtClaimTenantResolver}); never from a value the client chooses freely.
 */
export interface TenantResolver {
  resolve(request: TenantRequest): string | Promise<string>;
}
