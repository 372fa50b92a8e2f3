import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { InMemoryEventStore } from '@eventcore/core';
import { EventCoreModule } from '../eventcore.module';
import { EventCoreExceptionFilter } from '../http';
import { ProjectionRegistry } from '../projections/projection.registry';
import {
  Add,
  CountersProjection,
  eventually,
  SEEN,
  SeenModel,
} from '../projections/__fixtures__/projection-fixtures';
import { CommandBus } from '../command-bus';
import { EventCoreHealthModule } from './eventcore-health.module';

describe('EventCoreHealthModule.forRoot', () => {
  let app: INestApplication;
  let store: InMemoryEventStore;

  beforeEach(async () => {
    store = new InMemoryEventStore();
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({ eventStore: store, closeStoreOnShutdown: false }),
        EventCoreHealthModule.forRoot({ path: 'ops/health' }),
      ],
      providers: [{ provide: SEEN, useValue: new SeenModel() }, CountersProjection],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    // The filter every sample app installs: a down report must come through it unchanged.
    app.useGlobalFilters(new EventCoreExceptionFilter());
    await app.init();
  });

  afterEach(async () => {
    await app.close();
  });

  it('serves the store and projection indicators at the configured path', async () => {
    await eventually(
      () => app.get(ProjectionRegistry).list()[0]?.state === 'live',
      'the projection is live',
    );
    const health = await request(app.getHttpServer()).get('/ops/health').expect(200);
    expect(health.headers['cache-control']).toBe('no-cache, no-store, must-revalidate');
    expect(health.body).toMatchObject({
      status: 'ok',
      info: {
        eventStore: { status: 'up' },
        projections: { status: 'up', projections: { counters: { state: 'live' } } },
      },
      error: {},
    });
    await request(app.getHttpServer()).get('/health').expect(404);
  });

  it("answers 503 with Terminus's report, not a problem body, when a projection is faulted", async () => {
    const projection = app.get(CountersProjection);
    projection.failOn = 1;
    await app.get(CommandBus).execute(new Add('a', 1));
    await eventually(
      () => app.get(ProjectionRegistry).list()[0]?.state === 'faulted',
      'the projection is faulted',
      30_000,
    );
    const health = await request(app.getHttpServer()).get('/ops/health').expect(503);
    expect(health.headers['content-type']).toMatch(/^application\/json/);
    expect(health.body).toMatchObject({
      status: 'error',
      info: { eventStore: { status: 'up' } },
      error: {
        projections: { status: 'down', problems: ['counters is faulted'] },
      },
    });
    expect(health.body.details.projections.status).toBe('down');
  }, 40_000);

  it('answers 503 with the store down when the store is closed', async () => {
    await store.close();
    const health = await request(app.getHttpServer()).get('/ops/health').expect(503);
    expect(health.body).toMatchObject({
      status: 'error',
      error: { eventStore: { status: 'down', code: 'eventcore.store_closed' } },
    });
  });
});
