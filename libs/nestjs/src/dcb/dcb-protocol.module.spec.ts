import 'reflect-metadata';
import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  type INestApplication,
  Injectable,
  Logger,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { InMemoryEventStore, InvalidOptionsError } from '@eventcore/core';
import { EventCoreModule } from '../eventcore.module';
import { EventCoreExceptionFilter } from '../http/eventcore-exception.filter';
import { eventCoreValidationPipe } from '../http/validation.pipe';
import { DcbProtocolModule, type DcbProtocolOptions } from './dcb-protocol.module';

@Injectable()
class SecretHeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const headers = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, unknown> }>().headers;
    if (headers['x-secret'] === 'open sesame') return true;
    throw new ForbiddenException({ code: 'test.forbidden', detail: 'no secret' });
  }
}

async function startApp(
  options: DcbProtocolOptions,
  store = new InMemoryEventStore(),
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [EventCoreModule.forRoot({ eventStore: store }), DcbProtocolModule.forRoot(options)],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.useGlobalPipes(eventCoreValidationPipe());
  app.useGlobalFilters(new EventCoreExceptionFilter());
  await app.listen(0, '127.0.0.1');
  return app;
}

const read = (query: unknown, options?: unknown) => ({
  query: JSON.stringify(query),
  ...(options === undefined ? {} : { options: JSON.stringify(options) }),
});

describe('DcbProtocolModule', () => {
  describe('mounting', () => {
    it('refuses to mount without a guard or the explicit unauthenticated opt-in, or with both', () => {
      for (const options of [
        {},
        { path: 'dcb' },
        { guard: SecretHeaderGuard, unauthenticated: 'benchmarks-and-tests-only' as const },
      ]) {
        expect(() => DcbProtocolModule.forRoot(options)).toThrow(InvalidOptionsError);
        expect(() => DcbProtocolModule.forRoot(options)).toThrow(/exactly one of guard/);
      }
      expect(() =>
        DcbProtocolModule.forRoot({ unauthenticated: 'yes' as 'benchmarks-and-tests-only' }),
      ).toThrow(/unauthenticated must be 'benchmarks-and-tests-only'/);
      expect(() =>
        DcbProtocolModule.forRoot({
          guard: 'SecretHeaderGuard' as unknown as typeof SecretHeaderGuard,
        }),
      ).toThrow(/guard must be a class/);
    });

    it('puts every route behind the guard', async () => {
      const app = await startApp({ guard: SecretHeaderGuard });
      try {
        const http = request(await app.getUrl());
        const event = { type: 'A', data: '{}', tags: [] };
        await http
          .get('/read')
          .query(read({ items: [] }))
          .expect(403);
        await http
          .post('/append')
          .send({ events: [event] })
          .expect(403);
        await http
          .post('/append')
          .set('x-secret', 'open sesame')
          .send({ events: [event] })
          .expect(200);
        const events = await http
          .get('/read')
          .set('x-secret', 'open sesame')
          .query(read({ items: [] }))
          .expect(200);
        expect(events.body).toHaveLength(1);
      } finally {
        await app.close();
      }
    });

    it('warns at startup that unauthenticated routes are open to anyone, and serves them under path', async () => {
      const warnings: string[] = [];
      jest
        .spyOn(Logger.prototype, 'warn')
        .mockImplementation((message: unknown) => void warnings.push(String(message)));
      const app = await startApp({ unauthenticated: 'benchmarks-and-tests-only', path: 'dcb' });
      try {
        expect(warnings).toEqual([
          expect.stringMatching(/\/dcb\/read and \/dcb\/append are open to anyone/),
        ]);
        const http = request(await app.getUrl());
        await http
          .get('/dcb/read')
          .query(read({ items: [] }))
          .expect(200, []);
        await http
          .get('/read')
          .query(read({ items: [] }))
          .expect(404);
      } finally {
        jest.restoreAllMocks();
        await app.close();
      }
    });
  });

  describe('the protocol, as the dcb.events suite’s default HTTP adapter speaks it', () => {
    let app: INestApplication;
    let http: ReturnType<typeof request>;

    beforeEach(async () => {
      app = await startApp({ unauthenticated: 'benchmarks-and-tests-only' });
      http = request(await app.getUrl());
    });

    afterEach(async () => {
      await app.close();
    });

    const append = (events: unknown, condition?: unknown) =>
      http
        .post('/append')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ events, condition }));

    it('appends events and reads them back as [{ type, tags, data, position }], data untouched', async () => {
      const data = JSON.stringify({ batchIndex: 0, query: { items: [] }, spaced: ' x ' });
      const appended = await append([
        { type: 'eventType1', data, tags: ['tag1', 'tag2'] },
        { type: 'eventType2', data: '{}', tags: [] },
      ]).expect(200);
      expect(appended.headers['content-type']).toMatch(/^application\/json/);
      expect(appended.body).toEqual({
        durationInMicroseconds: expect.any(Number),
        appendConditionFailed: false,
      });
      expect(Number.isInteger(appended.body.durationInMicroseconds)).toBe(true);

      const events = await http
        .get('/read')
        .query(read({ items: [] }))
        .expect(200);
      expect(events.body).toEqual([
        { type: 'eventType1', tags: ['tag1', 'tag2'], data, position: expect.any(Number) },
        { type: 'eventType2', tags: [], data: '{}', position: expect.any(Number) },
      ]);
      const [first, second] = events.body as { position: number }[];
      expect(Object.keys(events.body[0] as object)).toEqual(['type', 'tags', 'data', 'position']);
      expect(first!.position).toBeGreaterThanOrEqual(1);
      expect(second!.position).toBeGreaterThan(first!.position);
    });

    it('reads by query and honours from (inclusive), backwards and limit', async () => {
      for (let i = 1; i <= 5; i++) {
        await append([{ type: i % 2 === 0 ? 'Even' : 'Odd', data: String(i), tags: [`n${i}`] }]);
      }
      const all = (await http.get('/read').query(read({ items: [] }))).body as {
        data: string;
        position: number;
      }[];
      const at = (i: number) => all[i - 1]!.position;
      const data = (options: unknown, query: unknown = { items: [] }) =>
        http
          .get('/read')
          .query(read(query, options))
          .expect(200)
          .then((r) => (r.body as { data: string }[]).map((e) => e.data));

      expect(await data(undefined, { items: [{ types: ['Even'] }] })).toEqual(['2', '4']);
      expect(await data(undefined, { items: [{ tags: ['n3'] }, { types: ['Even'] }] })).toEqual([
        '2',
        '3',
        '4',
      ]);
      expect(await data({ from: at(3) })).toEqual(['3', '4', '5']);
      expect(await data({ from: at(3), limit: 1 })).toEqual(['3']);
      expect(await data({ backwards: true, limit: 1 })).toEqual(['5']);
      expect(await data({ backwards: true, from: at(3) })).toEqual(['3', '2', '1']);
      expect(await data({ from: 0, limit: 2 })).toEqual(['1', '2']);
    });

    it('answers a failed condition 200 with appendConditionFailed, and writes nothing', async () => {
      await append([{ type: 'UsernameRegistered', data: '"alice"', tags: ['username:alice'] }]);
      const [registered] = (await http.get('/read').query(read({ items: [] }))).body as {
        position: number;
      }[];
      const taken = { failIfEventsMatch: { items: [{ tags: ['username:alice'] }] } };
      const again = [{ type: 'UsernameRegistered', data: '"alice2"', tags: ['username:alice'] }];

      const refused = await append(again, taken).expect(200);
      expect(refused.body).toEqual({
        durationInMicroseconds: expect.any(Number),
        appendConditionFailed: true,
      });
      const stale = await append(again, { ...taken, after: registered!.position - 1 });
      expect(stale.body.appendConditionFailed).toBe(true);
      // The suite sends after: 0 when its query matched nothing yet: every position is after 0.
      expect((await append(again, { ...taken, after: 0 })).body.appendConditionFailed).toBe(true);
      expect((await http.get('/read').query(read({ items: [] }))).body).toHaveLength(1);

      const current = await append(again, { ...taken, after: registered!.position });
      expect(current.body.appendConditionFailed).toBe(false);
      const unrelated = { failIfEventsMatch: { items: [{ tags: ['username:bob'] }] } };
      expect((await append(again, unrelated)).body.appendConditionFailed).toBe(false);
      expect((await http.get('/read').query(read({ items: [] }))).body).toHaveLength(3);
    });

    it('answers a malformed read 400 with a problem naming the parameter, before any read', async () => {
      const problem = async (query: Record<string, string>) => {
        const response = await http.get('/read').query(query).expect(400);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        return response.body as { code: string; failures?: unknown; detail: string };
      };
      expect(await problem({})).toMatchObject({
        code: 'request.invalid',
        failures: [{ property: 'query' }],
      });
      expect(await problem({ query: '{items: []}' })).toMatchObject({
        code: 'request.invalid',
        failures: [{ property: 'query', constraints: { json: 'query is not valid JSON' } }],
      });
      expect(await problem({ query: '{"items":[]}', options: 'limit=1' })).toMatchObject({
        failures: [{ property: 'options' }],
      });
      expect(await problem({ query: '{"items":{}}' })).toMatchObject({
        code: 'eventcore.invalid_query',
      });
      expect(await problem({ query: '{"items":[{"tag":["a"]}]}' })).toMatchObject({
        code: 'eventcore.invalid_query',
      });
      expect(await problem(read({ items: [] }, { limit: 0 }))).toMatchObject({
        code: 'eventcore.invalid_query',
      });
      expect(await problem(read({ items: [] }, { from: -1 }))).toMatchObject({
        code: 'eventcore.invalid_query',
      });
      expect(await problem(read({ items: [] }, { backwards: 'yes' }))).toMatchObject({
        code: 'eventcore.invalid_query',
      });
      // Two `query` parameters: which one would count is the parser's guess, so neither does.
      const twice = await http.get('/read?query=%7B%22items%22%3A%5B%5D%7D&query=x').expect(400);
      expect(twice.body).toMatchObject({ failures: [{ property: 'query' }] });
    });

    it('answers a malformed append 400 listing each field, and writes nothing', async () => {
      const failures = async (body: unknown) => {
        const response = await http
          .post('/append')
          .send(body as object)
          .expect(400);
        return response.body as { code: string; failures?: { property: string }[] };
      };
      const properties = async (body: unknown) =>
        ((await failures(body)).failures ?? []).map((f) => f.property);

      expect(await properties([])).toEqual(['body']);
      expect(await properties({})).toEqual(['events']);
      expect(await properties({ events: [] })).toEqual(['events']);
      expect(
        await properties({
          events: [{ type: 1, data: { a: 1 }, tags: 'x', extra: true }, 'event'],
          more: 1,
        }),
      ).toEqual([
        'more',
        'events.0.extra',
        'events.0.type',
        'events.0.data',
        'events.0.tags',
        'events.1',
      ]);

      const event = (tags: unknown) => ({ events: [{ type: 'A', data: '{}', tags }] });
      for (const tags of [['a', 'a'], ['$reserved'], [' padded'], ['']]) {
        const body = await failures(event(tags));
        expect(body.code).toBe('eventcore.invalid_append');
      }
      expect(
        (await failures({ ...event([]), condition: { failIfEventsMatch: { items: {} } } })).code,
      ).toBe('eventcore.invalid_query');
      expect(
        (
          await failures({
            ...event([]),
            condition: { failIfEventsMatch: { items: [] }, after: -1 },
          })
        ).code,
      ).toBe('eventcore.invalid_query');
      expect((await http.get('/read').query(read({ items: [] }))).body).toEqual([]);
    });
  });
});
