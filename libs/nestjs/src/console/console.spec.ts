import { ForbiddenException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { RecordedEvent } from '@eventcore/core';
import { ConsoleAccessGuard } from './console-access.guard';
import { CONSOLE_ROUTE, type ConsoleRoute } from './console-request';
import {
  ConsoleSessions,
  isLoopbackAddress,
  isLoopbackHost,
  parseCookies,
  sameOrigin,
  SESSION_TTL_MS,
} from './console-security';
import { resolveConsoleOptions } from './console.options';
import { html } from './html';
import { causationTree } from './trace-tree';

describe('html tagged template', () => {
  it('escapes every interpolated value, in text and in attributes', () => {
    const hostile = `"><script>alert('x')</script>&\``;
    expect(html`<a title="${hostile}">${hostile}</a>`.toString()).toBe(
      '<a title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;</a>',
    );
  });

  it('nests html without escaping it twice, joins lists and renders nothing for null, undefined and false', () => {
    // Under another name, so that Prettier leaves the exact markup alone.
    const tag = html;
    const items = ['<a>', 'b'].map((item) => tag`<li>${item}</li>`);
    expect(tag`<ul>${items}</ul>${null}${undefined}${false}${0}`.toString()).toBe(
      '<ul><li>&lt;a&gt;</li><li>b</li></ul>0',
    );
  });
});

describe('console security helpers', () => {
  it('knows loopback addresses, IPv4-mapped ones included', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      expect(isLoopbackAddress(address)).toBe(true);
    }
    for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.2', '::2', '', undefined]) {
      expect(isLoopbackAddress(address)).toBe(false);
    }
  });

  it('accepts only loopback host names, so a rebound foreign name is refused', () => {
    for (const host of [
      'localhost',
      'localhost:3000',
      'app.localhost',
      '127.0.0.1:80',
      '[::1]:8080',
    ]) {
      expect(isLoopbackHost(host)).toBe(true);
    }
    for (const host of ['evil.example', 'localhost.evil.example', '127.0.0.1.nip.io', undefined]) {
      expect(isLoopbackHost(host)).toBe(false);
    }
  });

  it('signs sessions with the token: tampered, expired or foreign ones are refused', () => {
    const sessions = new ConsoleSessions('a-token-of-sixteen-chars');
    const now = 1_700_000_000_000;
    const session = sessions.issue(now);
    expect(sessions.verify(session, now + 1000)).toBe(true);
    expect(sessions.verify(session, now + SESSION_TTL_MS)).toBe(false);
    const [expires, signature] = session.split('.');
    expect(sessions.verify(`${Number(expires) + 1}.${signature}`, now)).toBe(false);
    expect(new ConsoleSessions('another-token-sixteen-chars').verify(session, now)).toBe(false);
    expect(sessions.verify(undefined, now)).toBe(false);
    expect(sessions.isToken('a-token-of-sixteen-chars')).toBe(true);
    expect(sessions.isToken('a-token-of-sixteen-char')).toBe(false);
  });

  it('parses cookies and tells a cross-site request', () => {
    expect(parseCookies('a=1; b=x%20y; a=2')).toEqual(
      new Map([
        ['a', '1'],
        ['b', 'x y'],
      ]),
    );
    expect(sameOrigin({ host: 'h:1', origin: 'http://h:1' })).toBe(true);
    expect(sameOrigin({ host: 'h:1' })).toBe(true);
    expect(sameOrigin({ host: 'h:1', origin: 'http://evil:1' })).toBe(false);
    expect(sameOrigin({ host: 'h:1', origin: 'null' })).toBe(false);
    expect(sameOrigin({ host: 'h:1', 'sec-fetch-site': 'cross-site' })).toBe(false);
  });
});

describe('ConsoleAccessGuard with localOnly', () => {
  const route: ConsoleRoute = { path: '', kind: 'page', public: false };
  const options = resolveConsoleOptions({ localOnly: true });

  function contextFrom(remoteAddress: string, host: string): ExecutionContext {
    const handler = () => undefined;
    Reflect.defineMetadata(CONSOLE_ROUTE, route, handler);
    const request = {
      method: 'GET',
      url: '/eventcore/',
      headers: { host },
      socket: { remoteAddress },
    };
    return {
      getHandler: () => handler,
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}) }),
    } as unknown as ExecutionContext;
  }

  it('refuses a connection from another machine, whatever Host it names', async () => {
    const guard = new ConsoleAccessGuard(new Reflector(), options, null);
    await expect(guard.canActivate(contextFrom('10.1.2.3', 'localhost'))).rejects.toBeInstanceOf(
      ForbiddenException,
    );
    await expect(guard.canActivate(contextFrom('127.0.0.1', 'localhost'))).resolves.toBe(true);
  });
});

describe('causationTree', () => {
  const event = (id: string, causationId: string, streamId = 's'): RecordedEvent =>
    ({ id, streamId, metadata: { correlationId: 'c', causationId } }) as unknown as RecordedEvent;

  it('hangs events under the event that caused them and groups the rest by command', () => {
    const tree = causationTree([
      event('e1', 'cmd-1', 'order-1'),
      event('e2', 'cmd-1', 'stock-1'),
      event('e3', 'e1', 'payment-1'), // a process manager's command, caused by e1
      event('e4', 'e3', 'shipment-1'),
      event('e5', 'cmd-2'),
    ]);
    expect(tree.map((root) => root.causationId)).toEqual(['cmd-1', 'cmd-2']);
    const [first] = tree;
    expect(first!.events.map((n) => n.event.id)).toEqual(['e1', 'e2']);
    expect(first!.events[0]!.children[0]!.event.id).toBe('e3');
    expect(first!.events[0]!.children[0]!.children[0]!.event.id).toBe('e4');
  });

  it('takes only earlier events as parents, so no cycle can form', () => {
    const tree = causationTree([event('a', 'b'), event('b', 'a')]);
    expect(tree.map((root) => root.causationId)).toEqual(['b']);
    expect(tree[0]!.events[0]!.children.map((n) => n.event.id)).toEqual(['b']);
  });
});
