import 'reflect-metadata';
import { Controller, type INestApplication, Logger, Post, Query } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  AppendConditionFailedError,
  BusinessRuleViolationError,
  CommandTimeoutError,
  ConcurrencyConflictError,
  InvalidOptionsError,
  InvalidQueryError,
  LogHeldBackError,
  RetriesExhaustedError,
  UncoveredEventError,
  UnstorableTextError,
} from '@eventcore/core';
import { EventCoreExceptionFilter } from './eventcore-exception.filter';
import { eventCoreValidationPipe } from './validation.pipe';

const errors: Record<string, () => unknown> = {
  exhausted: () => new RetriesExhaustedError('Deposit', 5, new ConcurrencyConflictError([])),
  timeoutNotWritten: () => new CommandTimeoutError('Deposit', 100, 2, 'not-written'),
  unstorable: () => new UnstorableTextError('account-a', 'Opened', 'data.owner', 'a NUL character'),
  funds: () =>
    new BusinessRuleViolationError('Withdraw', 'not enough', 'account.insufficient_funds'),
  limit: () => new BusinessRuleViolationError('Withdraw', 'over the limit', 'account.limit'),
  unexpected: () => new TypeError('secret internals'),
  invalidQuery: () => new InvalidQueryError('items must be an array'),
  conditionFailed: () => new AppendConditionFailedError({ items: [{ tags: ['course:c1'] }] }, 7),
  heldBack: () =>
    new LogHeldBackError(5000, {
      pid: 4242,
      database: 'secret_db',
      applicationName: 'secret-app',
      state: 'idle in transaction',
      ageSeconds: 12,
      queryStart: '2026-01-01T00:00:00.000Z',
    }),
  uncovered: () => new UncoveredEventError('SubscribeStudent', 'CourseDefined', ['course:c1']),
};

@Controller()
class ThrowingController {
  @Post('throw')
  throw(@Query('error') name: string): never {
    throw errors[name]!();
  }
}

describe('EventCoreExceptionFilter', () => {
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let logged: string[];

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [ThrowingController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    logged = [];
    jest
      .spyOn(Logger.prototype, 'error')
      .mockImplementation((message: unknown) => void logged.push(String(message)));
    jest
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation((message: unknown) => void logged.push(String(message)));
    app.useGlobalPipes(eventCoreValidationPipe());
    app.useGlobalFilters(
      new EventCoreExceptionFilter({
        statusByRule: { 'account.limit': 422 },
        titles: { 'account.insufficient_funds': 'Insufficient funds' },
        problemTypeBase: 'https://bank.example/problems/',
        retryAfterSeconds: 3,
      }),
    );
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await app.close();
  });

  const send = (error: string) => http.post('/throw').query({ error });

  it('answers exhausted retries and a not-written timeout 503 with Retry-After', async () => {
    for (const [name, code] of [
      ['exhausted', 'eventcore.retries_exhausted'],
      ['timeoutNotWritten', 'eventcore.command_timeout'],
    ] as const) {
      const response = await send(name);
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('3');
      expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(response.body).toMatchObject({
        type: `https://bank.example/problems/${code}`,
        status: 503,
        code,
      });
    }
  });

  it('answers text no store can hold, found at append, 400 naming the path', async () => {
    const response = await send('unstorable');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      code: 'eventcore.unstorable_text',
      title: 'Text that cannot be stored',
      path: 'data.owner',
    });
    expect(logged).toEqual([]);
  });

  it('answers business rules 409 or as configured, with the rule as code and given titles', async () => {
    const funds = await send('funds');
    expect(funds.status).toBe(409);
    expect(funds.body).toEqual({
      type: 'https://bank.example/problems/account.insufficient_funds',
      title: 'Insufficient funds',
      status: 409,
      detail: 'not enough',
      code: 'account.insufficient_funds',
    });
    const limit = await send('limit');
    expect(limit.status).toBe(422);
    expect(limit.body.title).toBe('Unprocessable Entity');
  });

  it('answers anything unexpected 500 without internals, and logs it with its stack', async () => {
    const response = await send('unexpected');
    expect(response.status).toBe(500);
    expect(response.body.code).toBe('internal_error');
    expect(JSON.stringify(response.body)).not.toContain('secret');
    expect(logged).toEqual([expect.stringMatching(/TypeError: secret internals\n\s+at /)]);
  });

  it('answers an invalid DCB query 400 and a failed append condition 409, neither logged nor retryable', async () => {
    const query = await send('invalidQuery');
    expect(query.status).toBe(400);
    expect(query.body).toMatchObject({
      code: 'eventcore.invalid_query',
      title: 'Invalid event query',
      detail: expect.stringContaining('items must be an array'),
    });
    const condition = await send('conditionFailed');
    expect(condition.status).toBe(409);
    expect(condition.body).toMatchObject({
      code: 'eventcore.append_condition_failed',
      title: 'Append condition failed',
    });
    for (const response of [query, condition]) {
      expect(response.headers['retry-after']).toBeUndefined();
    }
    expect(logged).toEqual([]);
  });

  it('answers a held-back log 503 with Retry-After, naming the blocking session only in the log', async () => {
    const response = await send('heldBack');
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('3');
    expect(response.body).toMatchObject({
      code: 'eventcore.log_held_back',
      title: 'Event log held back, retry later',
      waitedMs: 5000,
    });
    expect(JSON.stringify(response.body)).not.toMatch(/secret|4242/);
    expect(logged).toEqual([expect.stringContaining('pid 4242, database secret_db')]);
  });

  it('answers an event outside its command boundary 500, a bug to log, not to retry', async () => {
    const response = await send('uncovered');
    expect(response.status).toBe(500);
    expect(response.headers['retry-after']).toBeUndefined();
    expect(response.body).toMatchObject({
      code: 'eventcore.uncovered_event',
      title: 'Event outside the command boundary',
    });
    expect(logged).toEqual([expect.stringContaining('eventcore.uncovered_event')]);
  });

  it('refuses a Retry-After that is not a whole number of seconds', () => {
    expect(() => new EventCoreExceptionFilter({ retryAfterSeconds: 0.5 })).toThrow(
      InvalidOptionsError,
    );
  });
});
