import type { INestApplication, LoggerService } from '@nestjs/common';
import request from 'supertest';
import { InMemoryEventStore } from '@eventcore/core';
import { FaultyEventStore } from '@eventcore/core/testing';
import { createBankApp } from '../apps/bank/src/bank-app';

/** Every line the app logs, by level, to show that no client mistake logs an error or a stack. */
class CapturingLogger implements LoggerService {
  readonly lines: { level: string; text: string }[] = [];
  log(...parts: unknown[]): void {
    this.add('log', parts);
  }
  error(...parts: unknown[]): void {
    this.add('error', parts);
  }
  warn(...parts: unknown[]): void {
    this.add('warn', parts);
  }
  debug(...parts: unknown[]): void {
    this.add('debug', parts);
  }
  verbose(...parts: unknown[]): void {
    this.add('verbose', parts);
  }
  fatal(...parts: unknown[]): void {
    this.add('fatal', parts);
  }
  private add(level: string, parts: unknown[]): void {
    const text = parts
      .map((p) => (p instanceof Error ? `${p.stack}` : typeof p === 'string' ? p : String(p)))
      .join(' ');
    this.lines.push({ level, text });
  }
}

const ADMIN_TOKEN = 'bad-input-admin-token-0123456789';
const PROBLEM_TYPE_BASE = 'https://eventcore.dev/problems/';
const STACK_FRAME = /\n\s+at /;

type Send = (http: ReturnType<typeof request>) => request.Test;

/** A raw JSON text body (supertest would re-encode an object). */
const json = (text: string) => (test: request.Test) =>
  test.set('Content-Type', 'application/json').send(text);

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/**
 * Each class of bad input the bank can receive: what is sent, and the status, code and fields
 * (for `request.invalid`) of the answer. The table in docs/security.md lists the same classes.
 */
const cases: [label: string, send: Send, status: number, code: string, fields?: string[]][] = [
  [
    'invalid JSON',
    (http) => json('{"accountId": "a",')(http.post('/accounts')),
    400,
    'request.invalid_json',
  ],
  [
    'a raw control character in a JSON string',
    (http) => json('{"accountId": "a\u0001", "owner": "Ann"}')(http.post('/accounts')),
    400,
    'request.invalid_json',
  ],
  [
    'a NUL character in a string field',
    (http) => json('{"accountId": "n1", "owner": "Ann\\u0000"}')(http.post('/accounts')),
    400,
    'request.invalid',
    ['owner'],
  ],
  [
    'a lone surrogate in a string field',
    (http) => json('{"accountId": "n2", "owner": "Ann\\ud800"}')(http.post('/accounts')),
    400,
    'request.invalid',
    ['owner'],
  ],
  [
    'a NUL character in a key',
    (http) => json('{"accountId": "n3", "owner": "Ann", "x\\u0000": 1}')(http.post('/accounts')),
    400,
    'request.invalid',
    ['x\u0000'],
  ],
  [
    'a __proto__ key',
    (http) =>
      json('{"accountId": "p1", "owner": "Ann", "__proto__": {"admin": true}}')(
        http.post('/accounts'),
      ),
    400,
    'request.invalid',
    ['__proto__'],
  ],
  [
    'a constructor key',
    (http) =>
      json('{"accountId": "p2", "owner": "Ann", "constructor": {"name": "x"}}')(
        http.post('/accounts'),
      ),
    400,
    'request.invalid',
    ['constructor'],
  ],
  [
    'a body nested 2,000 levels deep (4 KB)',
    (http) => json(`{"accountId": "d1", "owner": ${nested(2_000)}}`)(http.post('/accounts')),
    400,
    'request.too_deep',
  ],
  [
    'a body with 20,000 array elements (40 KB)',
    (http) =>
      json(`{"amount": 1, "list": [${Array(20_000).fill(0).join(',')}]}`)(
        http.post('/accounts/a/deposits'),
      ),
    400,
    'request.too_many_values',
  ],
  [
    'a body over the 100 KB limit',
    (http) => http.post('/accounts').send({ accountId: 'big', owner: 'x'.repeat(200_000) }),
    413,
    'request.too_large',
  ],
  [
    'an unsupported charset',
    (http) =>
      http
        .post('/accounts')
        .set('Content-Type', 'application/json; charset=latin-9')
        .send('{"accountId": "c1", "owner": "Ann"}'),
    415,
    'request.unsupported_media_type',
  ],
  [
    'an unsupported content encoding',
    (http) =>
      http
        .post('/accounts')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'zip')
        .send('{"accountId": "c2", "owner": "Ann"}'),
    415,
    'request.unsupported_media_type',
  ],
  [
    'a badly percent-encoded path',
    (http) => http.post('/accounts/%E0%A4%A/deposits').send({ amount: 1 }),
    400,
    'request.invalid_path',
  ],
  [
    'a NUL character in a path parameter',
    (http) => http.post('/accounts/a%00b/deposits').send({ amount: 1 }),
    400,
    'request.invalid',
    ['id'],
  ],
  [
    'a __proto__ query parameter',
    (http) => http.get('/read-model/accounts?__proto__=1'),
    400,
    'request.invalid',
    ['__proto__'],
  ],
  ['an unknown route', (http) => http.get('/no/such/route'), 404, 'request.route_not_found'],
  [
    'an unknown method on a known path',
    (http) => http.delete('/accounts/a'),
    404,
    'request.route_not_found',
  ],
  [
    'a field failing validation and an unknown field',
    (http) => http.post('/transfers').send({ from: 'a', to: 'b c', amount: -5, extra: true }),
    400,
    'request.invalid',
    ['amount', 'extra', 'to'],
  ],
  [
    'a malformed header',
    (http) =>
      http.post('/accounts/a/deposits').set('Idempotency-Key', 'x'.repeat(201)).send({ amount: 1 }),
    400,
    'request.invalid_header',
  ],
  [
    'an admin route without a token',
    (http) => http.post('/projections/account-balances/rebuild'),
    401,
    'request.unauthorized',
  ],
  [
    'an admin route with a wrong token',
    (http) =>
      http.post('/projections/account-balances/rebuild').set('Authorization', 'Bearer guess'),
    401,
    'request.unauthorized',
  ],
];

function expectProblem(response: request.Response, status: number, code: string): void {
  expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
  expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  expect(response.body).toEqual(
    expect.objectContaining({
      type: `${PROBLEM_TYPE_BASE}${code}`,
      title: expect.any(String),
      status,
      detail: expect.any(String),
      code,
    }),
  );
  expect(response.body.title.length).toBeGreaterThan(0);
  expect(response.body.detail.length).toBeGreaterThan(0);
  expect(response.body).not.toHaveProperty('statusCode');
  expect(response.body).not.toHaveProperty('message');
}

describe('bad input to the bank (HTTP): one problem shape, never a 5xx, nothing written', () => {
  let app: INestApplication;
  let store: InMemoryEventStore;
  let logger: CapturingLogger;
  let http: ReturnType<typeof request>;

  beforeEach(async () => {
    store = new InMemoryEventStore();
    logger = new CapturingLogger();
    app = await createBankApp({ eventStore: store, logger, adminToken: ADMIN_TOKEN });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
    await http.post('/accounts').send({ accountId: 'a', owner: 'Ann' }).expect(201);
    logger.lines.length = 0; // startup lines are not under test
  });

  afterEach(async () => {
    await app.close();
  });

  const eventCount = async () => (await store.readAll({ limit: 10_000 })).events.length;

  const table = cases.map(
    ([label, send, status, code, fields]) => [label, status, code, send, fields] as const,
  );
  it.each(table)('answers %s with %i %s', async (_label, status, code, send, fields) => {
    const before = await eventCount();
    const response = await send(http);
    expectProblem(response, status, code);
    if (fields !== undefined) {
      const properties = response.body.failures.map((f: { property: string }) => f.property);
      expect(properties.sort()).toEqual(fields);
      for (const failure of response.body.failures) {
        expect(Object.keys(failure.constraints).length).toBeGreaterThan(0);
      }
    }
    if (status === 401) {
      expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="admin"/);
    }
    expect(await eventCount()).toBe(before);
    expect(logger.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    expect(logger.lines.filter((l) => STACK_FRAME.test(l.text))).toEqual([]);
  });

  it('gives a detail that does not echo the input', async () => {
    const details = await Promise.all(
      [
        () => json('{"a":')(http.post('/accounts')),
        () => json('[1, 2, }')(http.post('/accounts')),
        () => http.get('/one/route'),
        () => http.post('/another/route'),
        () => http.post('/accounts/%E0%A4%A/deposits'),
        () => http.post('/accounts/%FF/deposits'),
      ].map(async (send) => (await send()).body.detail as string),
    );
    expect(new Set(details).size).toBe(3);
  });

  it('lets an administrator with the token control projections', async () => {
    await http
      .post('/projections/account-balances/pause')
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(200);
    const list = await http.get('/projections').set('Authorization', `bearer ${ADMIN_TOKEN}`);
    expect(list.status).toBe(200);
    expect(list.body[0]).toMatchObject({ name: 'account-balances', state: 'paused' });
  });

  it('answers 503 with Retry-After, not a 409 refusal, when conflict retries run out', async () => {
    await app.close();
    // Every append after the account's opening conflicts: the command retries, then gives up.
    const faulty = new FaultyEventStore({
      conflictOnAppends: Array.from({ length: 100 }, (_, i) => i + 2),
    });
    app = await createBankApp({ eventStore: faulty, logger, adminToken: ADMIN_TOKEN });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
    await http.post('/accounts').send({ accountId: 'a', owner: 'Ann' }).expect(201);
    const response = await http.post('/accounts/a/deposits').send({ amount: 5 });
    expectProblem(response, 503, 'eventcore.retries_exhausted');
    expect(response.headers['retry-after']).toBe('1');
    expect((await faulty.inner.readAll({ limit: 100 })).events).toHaveLength(1);
    expect(logger.lines.filter((l) => STACK_FRAME.test(l.text))).toEqual([]);
  });
});

describe('admin routes without a configured token', () => {
  it('refuses every request 403, whatever token is sent', async () => {
    const previous = process.env.EVENTCORE_ADMIN_TOKEN;
    delete process.env.EVENTCORE_ADMIN_TOKEN;
    const logger = new CapturingLogger();
    const app = await createBankApp({ eventStore: new InMemoryEventStore(), logger });
    try {
      await app.listen(0, '127.0.0.1');
      const http = request(await app.getUrl());
      for (const authorization of [undefined, 'Bearer ', `Bearer ${ADMIN_TOKEN}`]) {
        const call = http.post('/projections/account-balances/rebuild');
        const response = await (authorization ? call.set('Authorization', authorization) : call);
        expectProblem(response, 403, 'request.forbidden');
      }
      expect(logger.lines.some((l) => l.level === 'warn' && /No admin token/.test(l.text))).toBe(
        true,
      );
    } finally {
      await app.close();
      if (previous !== undefined) process.env.EVENTCORE_ADMIN_TOKEN = previous;
    }
  });
});
