import { type ExecutionContext, HttpException } from '@nestjs/common';
import { InvalidOptionsError } from '@eventcore/core';
import { AdminTokenGuard, AdminTokenModule } from './admin-token.guard';

const TOKEN = 'a-long-enough-admin-token';

/** A request with this Authorization header, and the headers set on its response. */
function contextWith(authorization?: string) {
  const headers: Record<string, string> = {};
  const context = {
    switchToHttp: () => ({
      getRequest: () => ({ headers: authorization === undefined ? {} : { authorization } }),
      getResponse: () => ({ header: (name: string, value: string) => (headers[name] = value) }),
    }),
  } as unknown as ExecutionContext;
  return { context, headers };
}

function refusal(guard: AdminTokenGuard, authorization?: string) {
  const { context, headers } = contextWith(authorization);
  try {
    guard.canActivate(context);
    return 'allowed';
  } catch (error) {
    if (!(error instanceof HttpException)) throw error;
    return { status: error.getStatus(), body: error.getResponse(), headers };
  }
}

describe('AdminTokenGuard', () => {
  it('lets the configured bearer token through, whatever the scheme case', () => {
    const guard = new AdminTokenGuard(TOKEN);
    expect(refusal(guard, `Bearer ${TOKEN}`)).toBe('allowed');
    expect(refusal(guard, `bearer ${TOKEN}`)).toBe('allowed');
  });

  it.each([
    ['no header', undefined, 'Bearer realm="admin"'],
    ['another scheme', `Basic ${TOKEN}`, 'Bearer realm="admin"'],
    [
      'a wrong token',
      'Bearer a-long-enough-admin-tokeN',
      'Bearer realm="admin", error="invalid_token"',
    ],
    ['a prefix of the token', 'Bearer a-long', 'Bearer realm="admin", error="invalid_token"'],
  ])('refuses %s with 401 and WWW-Authenticate', (_label, authorization, challenge) => {
    expect(refusal(new AdminTokenGuard(TOKEN), authorization)).toEqual({
      status: 401,
      body: { code: 'request.unauthorized', detail: expect.any(String) },
      headers: { 'WWW-Authenticate': challenge },
    });
  });

  it.each([undefined, null, ''])('refuses everything with 403 when the token is %p', (token) => {
    const guard = new AdminTokenGuard(token);
    for (const authorization of [undefined, 'Bearer ', `Bearer ${TOKEN}`]) {
      expect(refusal(guard, authorization)).toMatchObject({
        status: 403,
        body: { code: 'request.forbidden' },
      });
    }
  });

  it('refuses to be configured with a short or non-ASCII token', () => {
    expect(() => AdminTokenModule.forRoot('short')).toThrow(InvalidOptionsError);
    expect(() => AdminTokenModule.forRoot('ünïcödé-token-that-is-long')).toThrow(
      InvalidOptionsError,
    );
    expect(AdminTokenModule.forRoot(TOKEN).global).toBe(true);
  });
});
