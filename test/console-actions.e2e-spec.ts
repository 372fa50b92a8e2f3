import {
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  Injectable,
} from '@nestjs/common';
import request from 'supertest';
import {
  ExpectedVersion,
  InMemoryEventStore,
  InvalidOptionsError,
  type RecordedEvent,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import {
  EventCoreConsoleModule,
  Projection,
  ProjectionHost,
  ProjectionRegistry,
} from '@eventcore/nestjs';
import { startBankWithConsole } from './support/browser';

const TOKEN = 'console-actions-admin-token';

/** The hidden CSRF field of the first form of a console page. */
function csrfOf(page: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  if (token === undefined) throw new Error(`no CSRF field in:\n${page}`);
  return token;
}

/** Fails on some events until told to succeed, and records what it handled. */
@Projection({
  name: 'fragile',
  streams: ['fragile-'],
  errorPolicy: { onFailure: 'dead-letter', retry: { maxAttempts: 1 } },
})
class FragileProjection extends ProjectionHost {
  static healed = false;
  static readonly handled: string[] = [];

  handle(event: RecordedEvent): void {
    const data = event.data as { fail?: boolean; name: string };
    if (data.fail && !FragileProjection.healed) throw new Error(`cannot handle ${data.name}`);
    FragileProjection.handled.push(data.name);
  }
}

/** Lets in requests that carry `x-operator: yes`, as an application's own auth guard would. */
@Injectable()
class OperatorGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return (
      context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers[
        'x-operator'
      ] === 'yes'
    );
  }
}

describe('operations console (HTTP)', () => {
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  describe('refuses to mount without access control', () => {
    it.each([
      ['no options', {}],
      ['an unset token variable', { token: undefined }],
      ['an empty token', { token: '' }],
      ['localOnly false', { localOnly: false }],
    ])('with %s', (_, options) => {
      expect(() => EventCoreConsoleModule.forRoot(options)).toThrow(InvalidOptionsError);
      expect(() => EventCoreConsoleModule.forRoot(options)).toThrow(/refuses to mount/);
    });

    it('and with a token too short to be secret', () => {
      expect(() => EventCoreConsoleModule.forRoot({ token: 'short' })).toThrow(
        /at least 16 visible ASCII characters/,
      );
    });

    it('so the application does not start', async () => {
      const starting = startBankWithConsole({ console: { token: undefined } });
      // Were the rule broken, the app that started must not outlive the test.
      starting.then(
        ({ app: started }) => started.close(),
        () => undefined,
      );
      await expect(starting).rejects.toThrow(/refuses to mount/);
    });
  });

  describe('with an admin token', () => {
    let http: ReturnType<typeof request.agent>;
    let url: string;

    beforeEach(async () => {
      ({ app, url } = await startBankWithConsole({ console: { token: TOKEN } }));
      http = request.agent(url);
    });

    async function signIn(): Promise<void> {
      const form = await http.get('/eventcore/sign-in').expect(200);
      await http
        .post('/eventcore/sign-in')
        .type('form')
        .send({ _csrf: csrfOf(form.text), token: TOKEN, next: '/eventcore/projections' })
        .expect(303)
        .expect('location', '/eventcore/projections');
    }

    it('sends a browser to the sign-in page, and a script without the token away with 401', async () => {
      await http
        .get('/eventcore/projections?x=1')
        .expect(303)
        .expect('location', '/eventcore/sign-in?next=%2Feventcore%2Fprojections%3Fx%3D1');
      const status = await http.get('/eventcore/api/status').expect(401);
      expect(status.body.detail).toMatch(/Sign in/);
      await request(url)
        .get('/eventcore/api/status')
        .set('Authorization', 'Bearer wrong-token-123456')
        .expect(401);
      const ok = await request(url)
        .get('/eventcore/api/status')
        .set('Authorization', `Bearer ${TOKEN}`)
        .expect(200);
      expect(ok.body.values['p:account-balances:state']).toEqual(expect.any(String));
    });

    it('signs in with the token only, into a strict HttpOnly session cookie scoped to the console', async () => {
      const form = await http.get('/eventcore/sign-in').expect(200);
      const wrong = await http
        .post('/eventcore/sign-in')
        .type('form')
        .send({ _csrf: csrfOf(form.text), token: 'not-the-admin-token' })
        .expect(401);
      expect(wrong.text).toContain('That is not the admin token.');
      const right = await http
        .post('/eventcore/sign-in')
        .type('form')
        .send({ _csrf: csrfOf(form.text), token: TOKEN, next: '//evil.example/steal' })
        .expect(303)
        .expect('location', '/eventcore/');
      const cookies = right.headers['set-cookie'] as unknown as string[];
      const session = cookies.find((c) => c.startsWith('eventcore_console_session='));
      expect(session).toMatch(/; Path=\/eventcore; HttpOnly; SameSite=Strict; Max-Age=28800$/);
      const overview = await http.get('/eventcore/').expect(200);
      expect(overview.headers['content-security-policy']).toContain("default-src 'none'");
      expect(overview.text).toContain('<h1>Overview</h1>');
    });

    it('refuses a POST without the CSRF token of this browser, or from another site, with 403', async () => {
      await signIn();
      const registry = app!.get(ProjectionRegistry);
      const page = await http.get('/eventcore/projections').expect(200);
      const csrf = csrfOf(page.text);

      const bare = await http
        .post('/eventcore/projections/account-balances/pause')
        .type('form')
        .send({})
        .expect(403);
      expect(bare.text).toContain('no valid CSRF token');
      await http
        .post('/eventcore/projections/account-balances/pause')
        .type('form')
        .send({ _csrf: 'A'.repeat(43) })
        .expect(403);
      await http
        .post('/eventcore/projections/account-balances/pause')
        .set('Origin', 'http://evil.example')
        .type('form')
        .send({ _csrf: csrf })
        .expect(403);
      expect(registry.get('account-balances').state).not.toBe('paused');

      await http
        .post('/eventcore/projections/account-balances/pause')
        .set('Origin', url)
        .type('form')
        .send({ _csrf: csrf })
        .expect(303)
        .expect('location', '/eventcore/projections/account-balances?done=paused');
      expect(registry.get('account-balances').state).toBe('paused');
    });

    it('rebuilds only from the confirmation page', async () => {
      await signIn();
      const registry = app!.get(ProjectionRegistry);
      const rebuild = jest.spyOn(registry, 'rebuild');
      const confirm = await http.get('/eventcore/projections/account-balances/rebuild').expect(200);
      expect(confirm.text).toContain('Rebuild account-balances?');
      const csrf = csrfOf(confirm.text);

      await http
        .post('/eventcore/projections/account-balances/rebuild')
        .type('form')
        .send({ _csrf: csrf })
        .expect(303)
        .expect('location', '/eventcore/projections/account-balances/rebuild');
      expect(rebuild).not.toHaveBeenCalled();

      await http
        .post('/eventcore/projections/account-balances/rebuild')
        .type('form')
        .send({ _csrf: csrf, confirm: 'rebuild' })
        .expect(303)
        .expect('location', '/eventcore/projections/account-balances?done=rebuilt');
      expect(rebuild).toHaveBeenCalledWith('account-balances');
    });

    it('answers an unknown projection with a 404 page of the console', async () => {
      await signIn();
      const missing = await http.get('/eventcore/projections/nope').expect(404);
      expect(missing.headers['content-type']).toMatch(/^text\/html/);
      expect(missing.text).toContain('There is no projection named');
    });
  });

  describe('local only', () => {
    it('serves loopback connections that name this machine, and refuses other host names', async () => {
      let url: string;
      ({ app, url } = await startBankWithConsole({ console: { localOnly: true } }));
      await request(url).get('/eventcore/').expect(200);
      await request(url).get('/eventcore/').set('Host', 'localhost:1234').expect(200);
      // A page of evil.example whose name was rebound to 127.0.0.1 (DNS rebinding).
      const rebound = await request(url)
        .get('/eventcore/')
        .set('Host', 'evil.example:80')
        .expect(403);
      expect(rebound.text).toContain('connections from this machine only');
      await request(url).get('/eventcore/sign-in').expect(404);
    });
  });

  describe("with the application's own guard", () => {
    it('lets in what the guard lets in', async () => {
      let url: string;
      ({ app, url } = await startBankWithConsole({
        console: { guard: OperatorGuard, path: '/ops/eventcore' },
      }));
      await request(url).get('/ops/eventcore/').expect(403);
      await request(url).get('/ops/eventcore/').set('x-operator', 'yes').expect(200);
      // Assets are public: the sign-in of the application itself may need them.
      await request(url)
        .get('/ops/eventcore/assets/console.css')
        .expect(200)
        .expect('content-type', /text\/css/);
    });
  });

  describe('dead letters, streams and traces (in memory)', () => {
    let http: ReturnType<typeof request.agent>;
    let store: InMemoryEventStore;
    let registry: ProjectionRegistry;

    beforeEach(async () => {
      FragileProjection.healed = false;
      FragileProjection.handled.length = 0;
      store = new InMemoryEventStore();
      let url: string;
      ({ app, url } = await startBankWithConsole({
        console: { localOnly: true },
        bank: { eventStore: store },
        providers: [FragileProjection],
      }));
      http = request.agent(url);
      registry = app!.get(ProjectionRegistry);
    });

    async function append(stream: string, ...data: object[]): Promise<RecordedEvent[]> {
      const { events } = await store.append([
        {
          streamId: streamId(stream),
          expected: ExpectedVersion.any,
          events: data.map((d) => testEvent('Happened', d)),
        },
      ]);
      return [...events];
    }

    async function settle(): Promise<void> {
      await registry.waitFor((await store.readAll({ limit: 10_000 })).next, {
        projections: ['fragile'],
      });
    }

    it('retries a dead letter once the cause is fixed, and skips another for good', async () => {
      const [, bad, worse] = await append(
        'fragile-1',
        { name: 'first' },
        { name: 'second', fail: true },
        { name: 'third', fail: true },
      );
      await settle();
      const page = await http.get('/eventcore/projections/fragile').expect(200);
      expect(page.text).toContain(bad!.id);
      expect(page.text).toContain('cannot handle second');
      const inspect = await http
        .get(`/eventcore/projections/fragile/dead-letters/${bad!.id}`)
        .expect(200);
      expect(inspect.text).toContain('&quot;second&quot;');
      const csrf = csrfOf(page.text);

      const again = await http
        .post(`/eventcore/projections/fragile/dead-letters/${bad!.id}/retry`)
        .type('form')
        .send({ _csrf: csrf })
        .expect(409);
      expect(again.text).toContain('The dead letter is kept');
      expect(await registry.deadLetters('fragile')).toHaveLength(2);

      FragileProjection.healed = true;
      await http
        .post(`/eventcore/projections/fragile/dead-letters/${bad!.id}/retry`)
        .type('form')
        .send({ _csrf: csrf })
        .expect(303)
        .expect('location', '/eventcore/projections/fragile?done=retried');
      await http
        .post(`/eventcore/projections/fragile/dead-letters/${worse!.id}/skip`)
        .type('form')
        .send({ _csrf: csrf })
        .expect(303);
      expect(await registry.deadLetters('fragile')).toEqual([]);
      // (The failing batch was handled again event by event: "first" may come twice, at least once.)
      expect(FragileProjection.handled.filter((name) => name === 'second')).toHaveLength(1);
      expect(FragileProjection.handled).not.toContain('third');
      const after = await http.get('/eventcore/projections/fragile?done=retried').expect(200);
      expect(after.text).toContain('The event was handled; its dead letter is removed.');
    });

    it('escapes every value it shows', async () => {
      const hostile = '<script>alert("id")</script>';
      await append(hostile, { name: '<img src=x onerror=alert(1)>' });
      const page = await http.get(`/eventcore/streams/${encodeURIComponent(hostile)}`).expect(200);
      expect(page.text).not.toContain('<script>alert');
      expect(page.text).not.toContain('<img src=x');
      expect(page.text).toContain('&lt;script&gt;alert(&quot;id&quot;)&lt;/script&gt;');
      const search = await http.get('/eventcore/streams').query({ prefix: '<script>' }).expect(200);
      expect(search.text).not.toContain('<script>alert');
      expect(search.text).toContain(`streams/${encodeURIComponent(hostile)}`);
    });

    it('shows what holds subscribers back and the log head on the overview', async () => {
      await append('fragile-2', { name: 'a' }, { name: 'b' });
      const overview = await http.get('/eventcore/').expect(200);
      expect(overview.text).toContain(
        'No write transaction is open: nothing holds subscribers back.',
      );
      expect(overview.text).toMatch(/data-key="log:head">2</);
      const status = await http.get('/eventcore/api/status').expect(200);
      expect(status.body.values['log:head']).toBe('2');
      expect(status.body.values['p:fragile:state']).toEqual(expect.any(String));
    });
  });
});
