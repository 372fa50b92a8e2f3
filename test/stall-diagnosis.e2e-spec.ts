import { randomBytes } from 'node:crypto';
import { Injectable, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { ExpectedVersion, type RecordedEvent, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import {
  EventCoreHealthModule,
  EventCoreModule,
  Projection,
  ProjectionHost,
  ProjectionsHealthIndicator,
} from '@eventcore/nestjs';
import {
  createPostgresEventStore,
  PgPoolSqlExecutor,
  PostgresEventStore,
} from '@eventcore/postgres';
import {
  ADMIN_URL,
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import { Client, Pool } from 'pg';

/*
 * A stall seen from a Nest application on PostgreSQL: a write transaction left open, idle, in
 * ANOTHER database of the server (a forgotten psql session) holds back every subscriber of this
 * one. The projections health indicator goes down naming it (pid, database, application, state,
 * age), the `eventcore.log.held_back.seconds` metric rises, the module warns once for the whole
 * episode and once when it ends — and a role without pg_monitor gets "unknown", never "0 s".
 */

class Reader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Records what the module logs. */
class RecordingLogger implements LoggerService {
  readonly warnings: string[] = [];
  readonly logs: string[] = [];
  log(message: unknown): void {
    this.logs.push(String(message));
  }
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
  error(): void {}
}

@Injectable()
@Projection({ name: 'seen', pollIntervalMs: 50 })
class SeenProjection extends ProjectionHost {
  readonly seen: number[] = [];
  handle(event: RecordedEvent): void {
    this.seen.push(event.globalPosition);
  }
}

describeWithServer('stall diagnosis (an idle write transaction in another database)', () => {
  const reader = new Reader();
  let database: TestDatabase;
  let other: TestDatabase;
  let admin: Pool;
  const role = `eventcore_test_stall_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    database = await createTestDatabase();
    other = await createTestDatabase();
    admin = new Pool({ connectionString: ADMIN_URL, max: 1 });
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    // The schema, and a role that may append and read but not see other roles' sessions.
    await (await createPostgresEventStore({ connectionString: database.url })).close();
    const owner = database.pool({ max: 1 });
    await owner.query(`GRANT USAGE ON SCHEMA eventcore TO ${role};
      GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA eventcore TO ${role};
      GRANT USAGE ON ALL SEQUENCES IN SCHEMA eventcore TO ${role}`);
    await owner.end();
  });

  afterAll(async () => {
    metrics.disable();
    await Promise.all([database?.drop(), other?.drop()]);
    await admin?.query(`DROP ROLE IF EXISTS ${role}`);
    await admin?.end();
  });

  async function startApp(store: PostgresEventStore, logger: LoggerService) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({
          eventStore: store,
          closeStoreOnShutdown: false,
          projections: { heldBack: { warnAfterSeconds: 0.5, checkIntervalMs: 100 } },
        }),
        EventCoreHealthModule,
      ],
      providers: [SeenProjection],
    }).compile();
    const app = moduleRef.createNestApplication({ logger });
    await app.init();
    return app;
  }

  /** Opens a write transaction in the other database and leaves it idle; returns it and its pid. */
  async function holdIdleWriteTransaction(): Promise<{ holder: Client; pid: number }> {
    const holder = new Client({ connectionString: other.url, application_name: 'forgotten-psql' });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('CREATE TABLE held (x int)'); // takes a transaction id
    const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return { holder, pid: rows[0]!.pid };
  }

  const heldBackMetric = async () => {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'eventcore.log.held_back.seconds');
    return metric?.dataPoints[0]?.value as number | undefined;
  };

  const health = (app: INestApplication) =>
    app.get(ProjectionsHealthIndicator).isHealthy('projections', { maxHeldBackSeconds: 1 })
      .projections as Record<string, unknown> & {
      status: string;
      problems?: string[];
      logHeldBack?: { seconds: number; blocking: unknown };
    };

  it('reports the blocking transaction in health, the metric and one warning per episode', async () => {
    const store = await createPostgresEventStore({ connectionString: database.url });
    const logger = new RecordingLogger();
    const app = await startApp(store, logger);
    const { holder, pid } = await holdIdleWriteTransaction();
    let held = true;
    try {
      // Nothing waits yet: an open transaction alone holds nothing back.
      await eventually(() => health(app).logHeldBack !== undefined, 'a first answer');
      expect(health(app)).toMatchObject({ status: 'up', logHeldBack: { seconds: 0 } });

      const { events } = await store.append([
        { streamId: streamId('stall-1'), expected: ExpectedVersion.any, events: [testEvent('A')] },
      ]);
      await eventually(() => health(app).status === 'down', 'health down', 15_000);
      const report = health(app);
      expect(report.problems).toEqual([
        expect.stringMatching(
          new RegExp(
            `^the log is held back \\d+ s by the open write transaction pid ${pid} in database "${other.name}" \\(application "forgotten-psql", idle in transaction, open [\\d.]+ s\\)$`,
          ),
        ),
      ]);
      expect(report.logHeldBack).toEqual({
        seconds: expect.any(Number),
        blocking: {
          pid,
          database: other.name,
          applicationName: 'forgotten-psql',
          state: 'idle in transaction',
          ageSeconds: expect.any(Number),
          queryStart: expect.any(String),
        },
        checkedAt: expect.any(String),
      });
      expect(report.logHeldBack!.seconds).toBeGreaterThan(1);
      expect(await heldBackMetric()).toBeGreaterThan(1);
      // The projection has not seen the event: it is held back, not lost.
      expect(app.get(SeenProjection).seen).toEqual([]);
      // Many checks later, still one warning for the episode.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(logger.warnings.filter((w) => w.includes('held back'))).toEqual([
        expect.stringContaining(`pid ${pid} in database "${other.name}"`),
      ]);

      await holder.query('ROLLBACK');
      held = false;
      await eventually(
        () => app.get(SeenProjection).seen.includes(events[0]!.globalPosition),
        'the projection catches up',
      );
      await eventually(() => health(app).status === 'up', 'health up again');
      expect(health(app).logHeldBack).toMatchObject({ seconds: 0 });
      expect(await heldBackMetric()).toBe(0);
      await eventually(
        () => logger.logs.some((l) => l.startsWith('Subscribers are no longer held back')),
        'the end of the episode logged',
      );
      expect(logger.warnings.filter((w) => w.includes('held back'))).toHaveLength(1);
    } finally {
      if (held) await holder.query('ROLLBACK');
      await holder.end();
      await app.close();
      await store.close();
    }
  });

  it('says "unknown" for the blocking transaction, never 0 s, to a role without pg_monitor', async () => {
    const url = new URL(database.url);
    url.username = role;
    const pool = new Pool({ connectionString: url.toString(), max: 4 });
    const store = new PostgresEventStore(new PgPoolSqlExecutor(pool, true));
    const logger = new RecordingLogger();
    const app = await startApp(store, logger);
    const { holder } = await holdIdleWriteTransaction();
    try {
      await store.append([
        { streamId: streamId('stall-2'), expected: ExpectedVersion.any, events: [testEvent('B')] },
      ]);
      await eventually(() => health(app).status === 'down', 'health down', 15_000);
      const report = health(app);
      expect(report.logHeldBack).toEqual({
        seconds: expect.any(Number),
        blocking: expect.stringMatching(/^unknown: .*pg_monitor/),
        checkedAt: expect.any(String),
      });
      expect(report.problems).toEqual([
        expect.stringMatching(
          /^the log is held back \d+ s by an open write transaction this role cannot see \(.*pg_monitor/,
        ),
      ]);
      await eventually(
        () => logger.warnings.some((w) => w.includes('this role cannot see')),
        'the warning',
      );
      // The store's own health: the transaction ages are unknown (null), not 0.
      expect(await store.health()).toMatchObject({
        oldestTransactionAgeSeconds: null,
        oldestWriteTransactionAgeSeconds: null,
      });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
      await app.close();
      await store.close();
    }
  });
});

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
