import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';
import { InvalidOptionsError } from '@eventcore/core';
import { TenantUnresolvedError } from './tenancy.errors';
import type { TenantRequest, TenantResolver } from './tenant-resolver';

/** The verification key of {@link JwtClaimTenantResolver}: one algorithm, fixed by the server. */
export type JwtVerificationKey =
  | {
      readonly algorithm: 'HS256';
      /** The shared secret, at least 32 bytes (RFC 7518 §3.2). */
      readonly secret: string | Buffer;
    }
  | {
      readonly algorithm: 'RS256';
      /** The issuer's RSA public key: PEM text or a `KeyObject`. */
      readonly publicKey: string | KeyObject;
    };

/** Options of {@link JwtClaimTenantResolver}. */
export interface JwtClaimTenantResolverOptions {
  /** How tokens are verified; a token signed with any other algorithm is refused. */
  readonly key: JwtVerificationKey;
  /** The claim holding the tenant id. @default 'tenant' */
  readonly claim?: string;
  /** When set, the token's `iss` must equal it. */
  readonly issuer?: string;
  /** When set, the token's `aud` must be (or contain) it. */
  readonly audience?: string;
  /** Leeway for `exp` and `nbf`, in seconds. @default 5 */
  readonly clockToleranceSeconds?: number;
  /** Seconds since the epoch. @default the system clock */
  readonly now?: () => number;
}

const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*) *$/;
const MIN_SECRET_BYTES = 32;

/**
 * The tenant from a verified JWT (`Authorization: Bearer <jwt>`): the signature is checked with
 * the configured key and algorithm only (the token's `alg` must match it: no `none`, no switching
 * from RS256 to HS256), `exp` is required and checked, `nbf`, `iss` and `aud` when present or
 * configured. The tenant is the `claim` of a token that verifies; nothing else in the request
 * (headers, body, path) can change it.
 * @throws InvalidOptionsError (constructor) for a short secret or a key that is not an RSA public key
 */
export class JwtClaimTenantResolver implements TenantResolver {
  private readonly claim: string;
  private readonly tolerance: number;
  private readonly now: () => number;
  private readonly check: (signingInput: string, signature: Buffer) => boolean;

  constructor(private readonly options: JwtClaimTenantResolverOptions) {
    this.claim = options.claim ?? 'tenant';
    this.tolerance = options.clockToleranceSeconds ?? 5;
    if (!Number.isFinite(this.tolerance) || this.tolerance < 0) {
      throw new InvalidOptionsError('clockToleranceSeconds', 'use a number of seconds >= 0');
    }
    this.now = options.now ?? (() => Date.now() / 1000);
    this.check = verifierOf(options.key);
  }

  /** The tenant claim of the request's bearer token. @throws TenantUnresolvedError */
  resolve(request: TenantRequest): string {
    const header = request.headers.authorization;
    if (header === undefined)
      throw new TenantUnresolvedError('no "Authorization: Bearer <jwt>" header');
    const token = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
    if (token === undefined)
      throw new TenantUnresolvedError('the Authorization header is not "Bearer <jwt>"');
    const [encodedHeader, encodedPayload, encodedSignature] = token.split('.') as [
      string,
      string,
      string,
    ];
    const head = parseJson(encodedHeader, 'header');
    if (head.alg !== this.options.key.algorithm) {
      throw new TenantUnresolvedError(`the token is not signed with ${this.options.key.algorithm}`);
    }
    if (
      !this.check(`${encodedHeader}.${encodedPayload}`, Buffer.from(encodedSignature, 'base64url'))
    ) {
      throw new TenantUnresolvedError('the token signature does not verify');
    }
    const claims = parseJson(encodedPayload, 'payload');
    this.checkTimes(claims);
    if (this.options.issuer !== undefined && claims.iss !== this.options.issuer) {
      throw new TenantUnresolvedError('the token is from another issuer');
    }
    const audience = this.options.audience;
    if (
      audience !== undefined &&
      claims.aud !== audience &&
      !(Array.isArray(claims.aud) && claims.aud.includes(audience))
    ) {
      throw new TenantUnresolvedError('the token is for another audience');
    }
    const tenant = claims[this.claim];
    if (tenant === undefined)
      throw new TenantUnresolvedError(`the token has no "${this.claim}" claim`);
    // Checked by the interceptor like any resolver's answer: an invalid id is a 400 there.
    return tenant as string;
  }

  private checkTimes(claims: Record<string, unknown>): void {
    const now = this.now();
    if (typeof claims.exp !== 'number')
      throw new TenantUnresolvedError('the token has no "exp" claim');
    if (now > claims.exp + this.tolerance) throw new TenantUnresolvedError('the token has expired');
    if (
      claims.nbf !== undefined &&
      (typeof claims.nbf !== 'number' || now < claims.nbf - this.tolerance)
    ) {
      throw new TenantUnresolvedError('the token is not valid yet');
    }
  }
}

function verifierOf(key: JwtVerificationKey): (input: string, signature: Buffer) => boolean {
  if (key?.algorithm === 'HS256') {
    const secret = typeof key.secret === 'string' ? Buffer.from(key.secret, 'utf8') : key.secret;
    if (!Buffer.isBuffer(secret) || secret.length < MIN_SECRET_BYTES) {
      throw new InvalidOptionsError(
        'key.secret',
        `use a secret of at least ${MIN_SECRET_BYTES} bytes`,
      );
    }
    return (input, signature) => {
      const expected = createHmac('sha256', secret).update(input).digest();
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    };
  }
  if (key?.algorithm === 'RS256') {
    // A verifier never needs the private key: configuring it here means it is spread too far.
    if (typeof key.publicKey === 'string' && key.publicKey.includes('PRIVATE KEY')) {
      throw new InvalidOptionsError('key.publicKey', 'pass the public key, never the private key');
    }
    let publicKey: KeyObject;
    try {
      publicKey =
        typeof key.publicKey === 'string' ? createPublicKey(key.publicKey) : key.publicKey;
    } catch {
      throw new InvalidOptionsError(
        'key.publicKey',
        'use a PEM-encoded RSA public key or a KeyObject',
      );
    }
    if (publicKey.type !== 'public' || publicKey.asymmetricKeyType !== 'rsa') {
      throw new InvalidOptionsError(
        'key.publicKey',
        'use an RSA public key (not a private or symmetric key)',
      );
    }
    return (input, signature) => verify('RSA-SHA256', Buffer.from(input), publicKey, signature);
  }
  throw new InvalidOptionsError(
    'key',
    "use { algorithm: 'HS256', secret } or { algorithm: 'RS256', publicKey }",
  );
}

function parseJson(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new TenantUnresolvedError(`the token ${what} is not base64url JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TenantUnresolvedError(`the token ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}
