import { createHmac, createSecretKey, generateKeyPairSync, sign } from 'node:crypto';
import { InvalidOptionsError } from '@eventcore/core';
import { HeaderTenantResolver } from './header.tenant-resolver';
import { JwtClaimTenantResolver } from './jwt-claim.tenant-resolver';
import { InvalidTenantIdError, TenantUnresolvedError } from './tenancy.errors';
import { checkTenantId } from './tenant-id';

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!';
const NOW = 1_800_000_000;

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function hs256(
  claims: object,
  secret: string | Buffer = SECRET,
  header: object = { alg: 'HS256', typ: 'JWT' },
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function bearer(token: string) {
  return { headers: { authorization: `Bearer ${token}` } };
}

const valid = { tenant: 'acme', exp: NOW + 60 };

describe('checkTenantId', () => {
  it.each(['a', 'acme', 'acme_2', 'a'.repeat(32)])('accepts %j', (id) => {
    expect(checkTenantId(id)).toBe(id);
  });

  it.each([
    ['', 'empty'],
    [' acme', 'outside'],
    ['acme ', 'outside'],
    ['Acme', 'outside'],
    ['acme-corp', 'outside'],
    ['1acme', 'start with a letter'],
    ['a'.repeat(33), 'more than 32'],
    [42, 'not a string'],
  ])('refuses %j (%s), never normalising it', (id, reason) => {
    expect(() => checkTenantId(id)).toThrow(InvalidTenantIdError);
    expect(() => checkTenantId(id)).toThrow(reason);
  });
});

describe('JwtClaimTenantResolver', () => {
  const resolver = new JwtClaimTenantResolver({
    key: { algorithm: 'HS256', secret: SECRET },
    now: () => NOW,
  });

  it('answers the tenant claim of a token that verifies', () => {
    expect(resolver.resolve(bearer(hs256(valid)))).toBe('acme');
  });

  it.each([
    ['no header', { headers: {} }, 'no "Authorization'],
    ['a basic credential', { headers: { authorization: 'Basic YTpi' } }, 'not "Bearer <jwt>"'],
    ['another secret', bearer(hs256(valid, 'another-secret-of-at-least-32-bytes!!')), 'signature'],
    ['alg none', bearer(`${b64({ alg: 'none' })}.${b64(valid)}.`), 'not signed with HS256'],
    [
      'a tampered payload',
      bearer(hs256(valid).replace(/\.[^.]+\./, `.${b64({ ...valid, tenant: 'other' })}.`)),
      'signature',
    ],
    ['an expired token', bearer(hs256({ tenant: 'acme', exp: NOW - 10 })), 'expired'],
    ['no exp', bearer(hs256({ tenant: 'acme' })), 'no "exp"'],
    ['a future nbf', bearer(hs256({ ...valid, nbf: NOW + 30 })), 'not valid yet'],
    ['no tenant claim', bearer(hs256({ exp: NOW + 60 })), 'no "tenant" claim'],
  ])('refuses %s', (_, request, reason) => {
    expect(() => resolver.resolve(request)).toThrow(TenantUnresolvedError);
    expect(() => resolver.resolve(request)).toThrow(reason);
  });

  it('checks the issuer and audience when configured', () => {
    const strict = new JwtClaimTenantResolver({
      key: { algorithm: 'HS256', secret: SECRET },
      issuer: 'https://id.example',
      audience: 'api',
      now: () => NOW,
    });
    const good = { ...valid, iss: 'https://id.example', aud: ['web', 'api'] };
    expect(strict.resolve(bearer(hs256(good)))).toBe('acme');
    expect(() => strict.resolve(bearer(hs256({ ...good, iss: 'https://evil.example' })))).toThrow(
      'another issuer',
    );
    expect(() => strict.resolve(bearer(hs256({ ...good, aud: 'web' })))).toThrow(
      'another audience',
    );
  });

  describe('RS256', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rs = new JwtClaimTenantResolver({
      key: { algorithm: 'RS256', publicKey: pem },
      now: () => NOW,
    });

    function rs256(claims: object): string {
      const input = `${b64({ alg: 'RS256' })}.${b64(claims)}`;
      return `${input}.${sign('RSA-SHA256', Buffer.from(input), privateKey).toString('base64url')}`;
    }

    it('answers the claim of a token signed with the private key', () => {
      expect(rs.resolve(bearer(rs256(valid)))).toBe('acme');
    });

    it('refuses an HS256 token signed with the public key as secret (algorithm confusion)', () => {
      const forged = hs256({ ...valid, tenant: 'victim' }, pem, { alg: 'HS256' });
      expect(() => rs.resolve(bearer(forged))).toThrow('not signed with RS256');
    });

    it('refuses a private key or a symmetric secret as the verification key', () => {
      const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const secret = createSecretKey(Buffer.from(SECRET));
      expect(
        () => new JwtClaimTenantResolver({ key: { algorithm: 'RS256', publicKey: secret } }),
      ).toThrow('RSA public key');
      expect(
        () => new JwtClaimTenantResolver({ key: { algorithm: 'RS256', publicKey: privatePem } }),
      ).toThrow(InvalidOptionsError);
    });
  });

  it('refuses a short HS256 secret at construction', () => {
    expect(
      () => new JwtClaimTenantResolver({ key: { algorithm: 'HS256', secret: 'short' } }),
    ).toThrow('at least 32 bytes');
  });
});

describe('HeaderTenantResolver', () => {
  const resolver = new HeaderTenantResolver();

  it('answers the header as sent', () => {
    expect(resolver.resolve({ headers: { 'x-tenant-id': 'acme' } })).toBe('acme');
  });

  it('refuses a request without it (401) and a repeated header (400)', () => {
    expect(() => resolver.resolve({ headers: {} })).toThrow(TenantUnresolvedError);
    expect(() => resolver.resolve({ headers: { 'x-tenant-id': ['a', 'b'] } })).toThrow(
      InvalidTenantIdError,
    );
  });
});
