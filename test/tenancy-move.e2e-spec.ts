import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  type EventStore,
  InvalidOptionsError,
  type Position,
  type ProjectionContext,
  type RecordedEvent,
  type StreamId,
} from '@eventcore/core';
import {
  EventCoreExceptionFilter,
  EventCoreModule,
  JwtClaimTenantResolver,
  Projection,
  ProjectionHost,
  TenantDirectory,
} from '@eventcore/nestjs';
import {
  createPostgresDatabaseTenants,
  createPostgresEventStore,
  type PostgresDatabaseTenants,
  type PostgresProjectionTx,
  type TenantDatabaseMove,
} from '@eventcore/postgres';
import {
  ADMIN_URL,
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import { EventCoreNatsModule, NatsForwarder } from '@eventcore/nats';
import { connect, type NatsConnection } from 'nats';
import { Client, Pool } from 'pg';
import {
  deleteStreams,
  describeWithNats,
  NATS_URL,
  uniqueName,
} from '../libs/nats/src/__fixtures__/nats-testing';
import { AccountsModule } from '../apps/bank/src/accounts/accounts.module';
import {
  type PostgresServer,
  postgresBinariesInstalled,
  startPostgresServer,
} from './support/postgres-server';

/*
 * Moving a tenant between two real PostgreSQL servers (`TenantDirectory.moveTenant`) while the
 * bank's accounts API takes concurrent transfers of the moving tenant and of another one. Checks:
 * the moving tenant's commands succeed before, are refused with a retryable 503 and then succeed,
 * or succeed after; its log is identical on both servers; money is conserved; an exactly-once read
 * model in the tenant's database resumes from its translated checkpoint and counts every event
 * once; a read-your-writes token given before the move still works after it; a failed move
 * leaves the tenant where it was, writable.
 */

const SECRET = 'tenancy-move-secret-of-32-bytes-or-more';
const MOVER = 'mover';
const OTHER = 'other';
const ACCOUNTS = ['a', 'b', 'c', 'd'];
const OPENING = 10_000;
const CLIENTS = 8;

function tokenFor(tenant: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ tenant, exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `Bearer ${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

/** Every event of every stream, counted once per event id in the tenant's database, with the checkpoint. */
@Projection({ name: 'seen', pollIntervalMs: 50 })
@Injectable()
class Seen extends ProjectionHost<PostgresProjectionTx> {
  override async setup(context: ProjectionContext<PostgresProjectionTx>): Promise<void> {
    await context.tx.query(SEEN_TABLE);
  }

  async handle(
    event: RecordedEvent,
    context: ProjectionContext<PostgresProjectionTx>,
  ): Promise<void> {
    await context.tx.query(
      `INSERT INTO eventcore.seen AS s (event_id, n) VALUES ($1, 1)
       ON CONFLICT (event_id) DO UPDATE SET n = s.n + 1`,
      [event.id],
    );
  }
}

const SEEN_TABLE = `CREATE TABLE IF NOT EXISTS eventcore.seen (event_id uuid PRIMARY KEY, n int NOT NULL)`;

/** `onMove`: the read model lives in the tenant's database, so it moves with its checkpoint. */
let failNextMove = false;
async function copySeen(move: TenantDatabaseMove): Promise<void> {
  if (failNextMove) {
    failNextMove = false;
    throw new Error('copying the read models failed (injected by the test)');
  }
  await move.target.query(SEEN_TABLE);
  const rows = await move.source.query<{ event_id: string; n: number }>(
    'SELECT event_id::text, n FROM eventcore.seen',
  );
  await move.target.query(
    'INSERT INTO eventcore.seen (event_id, n) SELECT * FROM unnest($1::uuid[], $2::int[])',
    [rows.map((r) => r.event_id), rows.map((r) => r.n)],
  );
}

interface Reply {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: Record<string, unknown>;
}

async function send(url: string, tenant: string, path: string, body: object, key: string) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: {
      Authorization: tokenFor(tenant),
      'Content-Type': 'application/json',
      'Idempotency-Key': key,
      'X-Correlation-Id': key,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  } satisfies Reply;
}

/**
 * The whole log, up to its head: `readAll` stops at the server-wide horizon, which an open
 * transaction (a projection's batch) can hold below the last committed event for a moment.
 */
async function readLog(store: EventStore): Promise<RecordedEvent[]> {
  const head = (await store.readStreams(['account-none' as StreamId])).position;
  const events: RecordedEvent[] = [];
  let after: Position | undefined;
  while (after === undefined || store.comparePositions(after, head) < 0) {
    const page = await store.readAll({ after, limit: 1_000 });
    events.push(...page.events);
    if (page.events.length === 0 && page.isEnd) await sleep(20);
    after = page.next;
  }
  return events;
}

/** What a log must keep across a move: everything but positions and recorded-at times. */
function essence(event: RecordedEvent) {
  return {
    id: event.id,
    streamId: event.streamId,
    streamVersion: event.streamVersion,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    occurredAt: event.occurredAt,
    schemaVersion: event.schemaVersion,
    tags: event.tags,
  };
}

function balances(events: readonly RecordedEvent[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const event of events) {
    const amount = (event.data as { amount?: number }).amount ?? 0;
    const sign =
      event.type === 'MoneyDeposited' || event.type === 'MoneyTransferredIn'
        ? 1
        : event.type === 'MoneyWithdrawn' || event.type === 'MoneyTransferredOut'
          ? -1
          : 0;
    if (sign !== 0) result.set(event.streamId, (result.get(event.streamId) ?? 0) + sign * amount);
  }
  return result;
}

function moveSuite(): void {
  let server: PostgresServer;
  let database: TestDatabase;
  let prefix: string;
  let tenants: PostgresDatabaseTenants;
  let app: INestApplication;
  let url: string;
  let directory: TenantDirectory;
  let nc: NatsConnection;
  let stream: string;
  /** A second instance, with stores of its own: it has the moving tenant open when it moves. */
  let other: { app: INestApplication; url: string; tenants: PostgresDatabaseTenants };

  const storesOf = () =>
    createPostgresDatabaseTenants({
      directoryConnectionString: database.url,
      databasePrefix: prefix,
      leaseTtlMs: 60_000,
      onMove: copySeen,
    });

  /** An instance of the accounts API; `forward` adds the JetStream forwarder (no tenant option). */
  async function startApp(stores: PostgresDatabaseTenants, forward: boolean) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({
          tenancy: {
            placement: 'database',
            resolver: new JwtClaimTenantResolver({ key: { algorithm: 'HS256', secret: SECRET } }),
            stores,
          },
          closeStoreOnShutdown: false,
        }),
        AccountsModule,
        ...(forward
          ? [
              EventCoreNatsModule.forRoot({
                servers: NATS_URL,
                stream,
                subjectPrefix: `test.${stream}`,
                streams: ['account-'],
              }),
            ]
          : []),
      ],
      providers: [Seen],
    }).compile();
    const started = moduleRef.createNestApplication({ logger: ['error'] });
    started.useGlobalFilters(new EventCoreExceptionFilter());
    await started.listen(0, '127.0.0.1');
    return { app: started, url: await started.getUrl() };
  }

  beforeAll(async () => {
    server = await startPostgresServer({ maxConnections: 40 });
    database = await createTestDatabase();
    prefix = `${database.name}_`;
    tenants = await storesOf();
    await tenants.addServer('shared', ADMIN_URL);
    await tenants.addServer('private', server.url());
    await tenants.create(MOVER, 'shared');
    await tenants.create(OTHER, 'shared');
    nc = await connect({ servers: NATS_URL });
    stream = uniqueName('EVENTCORE_MOVE');
    // The forwarder runs on the moving instance only: see the duplicates check.
    ({ app, url } = await startApp(tenants, true));
    directory = app.get(TenantDirectory);
    const otherTenants = await storesOf();
    other = { ...(await startApp(otherTenants, false)), tenants: otherTenants };
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await other?.app.close();
    await tenants?.close();
    await other?.tenants.close();
    if (nc !== undefined) {
      await deleteStreams(nc, stream);
      await nc.close();
    }
    if (database !== undefined) {
      const admin = new Client({ connectionString: ADMIN_URL });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ datname: string }>(
          'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
          [prefix],
        );
        for (const { datname } of rows) {
          await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
        }
      } finally {
        await admin.end();
      }
      await database.drop();
    }
    await server?.stop();
  }, 60_000);

  /** A store on the tenant's database on `serverUrl`, outside the app. */
  async function storeOn(serverUrl: string, tenant: string) {
    const target = new URL(serverUrl);
    target.pathname = `/${prefix}${tenant}`;
    const pool = new Pool({ connectionString: target.toString(), max: 2 });
    const store = await createPostgresEventStore({ pool, migrate: false });
    return {
      store,
      pool,
      close: async () => {
        await store.close();
        await pool.end();
      },
    };
  }

  it('honours leaseTtlMs: a projection lease lasts that long', async () => {
    const parts = await tenants.open(OTHER);
    const lease = await parts!.projectionLock.tryAcquire('lease-ttl-check');
    try {
      const [row] = await parts!.eventStore.sqlExecutor.query<{ ms: string }>(
        `SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms
         FROM eventcore.projection_leases WHERE projection = 'lease-ttl-check'`,
      );
      expect(Number(row!.ms)).toBeGreaterThan(55_000);
      expect(Number(row!.ms)).toBeLessThanOrEqual(60_000);
    } finally {
      await lease?.release();
    }
  });

  it('refuses a lease TTL that is not an integer >= 500 ms', async () => {
    await expect(
      createPostgresDatabaseTenants({
        directoryConnectionString: database.url,
        leaseTtlMs: 100,
      }),
    ).rejects.toThrow(InvalidOptionsError);
  });

  it('moves a tenant under load: nothing lost, nothing doubled, the log identical', async () => {
    // --- Accounts of both tenants, funded ---
    for (const tenant of [MOVER, OTHER]) {
      for (const account of ACCOUNTS) {
        const open = await send(
          url,
          tenant,
          '/accounts',
          { accountId: account, owner: account },
          `${tenant}-open-${account}`,
        );
        expect(open.status).toBe(201);
        const fund = await send(
          url,
          tenant,
          `/accounts/${account}/deposits`,
          { amount: OPENING },
          `${tenant}-fund-${account}`,
        );
        expect(fund.status).toBe(201);
      }
    }
    // The other instance has the moving tenant open (and runs its projection) before the move.
    const viaOther = await send(
      other.url,
      MOVER,
      '/accounts/b/deposits',
      { amount: 1 },
      'mover-via-other',
    );
    expect(viaOther.status).toBe(201);
    // A read-your-writes token given before the move.
    const before = await send(url, MOVER, `/accounts/a/deposits`, { amount: 1 }, 'mover-token');
    expect(before.status).toBe(201);
    const tokenBeforeMove = before.body.position as Position;

    // --- Load: transfers of both tenants until the move is over, then a little more ---
    const outcomes: { tenant: string; key: string; status: number; refusals: number }[] = [];
    let moveDone = false;
    let afterMove = 0;
    let sequence = 0;
    const client = async (n: number) => {
      const tenant = n % 2 === 0 ? MOVER : OTHER;
      while (!moveDone || afterMove < 40) {
        const key = `${tenant}-t-${sequence++}`;
        const from = ACCOUNTS[sequence % 4]!;
        const to = ACCOUNTS[(sequence + 1 + (n % 3)) % 4]!;
        let refusals = 0;
        let reply: Reply;
        for (;;) {
          reply = await send(
            url,
            tenant,
            '/transfers',
            { from, to, amount: 1 + (sequence % 7) },
            key,
          );
          if (reply.status !== 503) break;
          expect(reply.body.code).toBe('eventcore.tenant_moving');
          expect(reply.retryAfter).toBe('1');
          refusals++;
          await sleep(20);
        }
        outcomes.push({ tenant, key, status: reply.status, refusals });
        if (moveDone) afterMove++;
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
    await sleep(1_500);
    const started = Date.now();
    const result = await directory.moveTenant(MOVER, 'private', { keepSource: true });
    const moveMs = Date.now() - started;
    moveDone = true;
    await load;
    console.log(
      `moved ${result.events} events in ${moveMs} ms; ${outcomes.length} transfers, ` +
        `${outcomes.filter((o) => o.refusals > 0).length} refused and retried`,
    );

    expect(result).toMatchObject({ from: 'shared', to: 'private' });
    // The other instance still had the old database open: it is refused there (read-only), lets
    // go of it, and the same request then goes to the new server.
    let otherReply: Reply | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      otherReply = await send(
        other.url,
        MOVER,
        '/accounts/c/deposits',
        { amount: 1 },
        'mover-via-other-after',
      );
      if (otherReply.status !== 503) break;
      expect(otherReply.body.code).toBe('eventcore.tenant_moving');
      await sleep(50);
    }
    expect(otherReply?.status).toBe(201);
    expect((await tenants.list()).find((t) => t.tenantId === MOVER)?.location).toBe(
      `server private, database ${prefix}${MOVER}`,
    );
    // Every transfer ended accepted; the mover's were refused during the move, the other's never.
    expect(outcomes.every((o) => o.status === 201)).toBe(true);
    expect(outcomes.filter((o) => o.tenant === MOVER && o.refusals > 0).length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.tenant === OTHER && o.refusals > 0)).toEqual([]);

    // --- The log: identical on both servers up to the move, then the new transfers ---
    const source = await storeOn(ADMIN_URL, MOVER);
    const target = await storeOn(server.url(), MOVER);
    try {
      const sourceLog = await readLog(source.store);
      const targetLog = await readLog(target.store);
      expect(sourceLog.length).toBe(result.events);
      expect(targetLog.slice(0, sourceLog.length).map(essence)).toEqual(sourceLog.map(essence));
      // The source is read-only: nothing can be written there after the move.
      await expect(
        source.pool.query('INSERT INTO eventcore.seen (event_id, n) VALUES (gen_random_uuid(), 1)'),
      ).rejects.toThrow(/read-only/);

      // Each accepted transfer is in the log once; money is conserved; no balance below zero.
      const byKey = new Map<string, number>();
      for (const e of targetLog) {
        const key = e.metadata.correlationId;
        if (e.type === 'MoneyTransferredOut') byKey.set(key, (byKey.get(key) ?? 0) + 1);
      }
      const moverTransfers = outcomes.filter((o) => o.tenant === MOVER);
      expect(moverTransfers.filter((o) => byKey.get(o.key) !== 1)).toEqual([]);
      expect(byKey.size).toBe(moverTransfers.length);
      const money = balances(targetLog);
      // The opening deposits, the token's deposit and the two through the other instance.
      expect([...money.values()].reduce((a, b) => a + b, 0)).toBe(ACCOUNTS.length * OPENING + 3);
      expect([...money.values()].every((b) => b >= 0)).toBe(true);

      // --- The projection resumed on the target from its translated checkpoint ---
      const head = (await target.store.readStreams(['account-none' as StreamId])).position;
      await directory.runAs(MOVER, async () => {
        const registry = await directory.projectionsOf(MOVER);
        await registry.waitFor(head, { timeoutMs: 20_000 });
        // The token from before the move names a position of the old server: translated.
        await registry.waitFor(tokenBeforeMove, { timeoutMs: 5_000 });
      });
      const { rows } = await target.pool.query<{ event_id: string; n: number }>(
        'SELECT event_id::text, n FROM eventcore.seen',
      );
      expect(rows.filter((r) => r.n !== 1)).toEqual([]);
      expect(rows.map((r) => r.event_id).sort()).toEqual(targetLog.map((e) => e.id).sort());

      // The forwarder resumed from its translated checkpoint: it published no event a second
      // time (JetStream would have acknowledged a republish as a duplicate), and the stream holds
      // each of the tenant's account events once, under the tenant's own subject token.
      expect(app.get(NatsForwarder).stats().duplicates).toBe(0);
      const jsm = await nc.jetstreamManager();
      const { state } = await jsm.streams.info(stream, {
        subjects_filter: `test.${stream}.${MOVER}.>`,
      });
      const forwarded = Object.values(state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
      expect(forwarded).toBe(targetLog.filter((e) => e.streamId.startsWith('account-')).length);
    } finally {
      await source.close();
      await target.close();
    }
  }, 120_000);

  it('leaves the tenant on its server, writable, when a move fails midway', async () => {
    failNextMove = true;
    await expect(directory.moveTenant(OTHER, 'private')).rejects.toThrow(/injected by the test/);
    expect((await tenants.list()).find((t) => t.tenantId === OTHER)?.location).toBe(
      `server shared, database ${prefix}${OTHER}`,
    );
    const deposit = await send(
      url,
      OTHER,
      '/accounts/a/deposits',
      { amount: 5 },
      'other-after-failed-move',
    );
    expect(deposit.status).toBe(201);
    // The half-filled target was dropped.
    const admin = new Client({ connectionString: server.url() });
    await admin.connect();
    try {
      const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        `${prefix}${OTHER}`,
      ]);
      expect(rows).toEqual([]);
    } finally {
      await admin.end();
    }
    await expect(directory.moveTenant(OTHER, 'nowhere')).rejects.toThrow(InvalidOptionsError);
  }, 60_000);
}

if (postgresBinariesInstalled()) {
  describeWithServer('moving a tenant between PostgreSQL servers', () =>
    describeWithNats('with the JetStream forwarder', moveSuite),
  );
} else if (process.env.CI === 'true') {
  describe('moving a tenant between PostgreSQL servers', () => {
    it('needs the PostgreSQL 15 server binaries', () => {
      throw new Error(
        '/usr/lib/postgresql/15/bin/initdb is missing: apt-get install postgresql-15',
      );
    });
  });
} else {
  console.warn(
    'SKIPPED "moving a tenant between PostgreSQL servers": no /usr/lib/postgresql/15/bin/initdb',
  );
  describe.skip('moving a tenant between PostgreSQL servers [SKIPPED: no PostgreSQL 15 binaries]', () =>
    moveSuite());
}
