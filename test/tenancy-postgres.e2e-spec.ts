import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  type INestApplication,
  type ModuleMetadata,
  type Type,
  Inject,
  Injectable,
  Param,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IsInt, IsPositive, IsString } from 'class-validator';
import request from 'supertest';
import {
  type BlockingTransaction,
  Command,
  type CommandContext,
  type CommandLogic,
  ErrorCodes,
  type Position,
  type ProjectionContext,
  type RecordedEvent,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import {
  AdminTokenGuard,
  AdminTokenModule,
  CommandBus,
  EventCoreExceptionFilter,
  EventCoreHealthModule,
  EventCoreModule,
  JwtClaimTenantResolver,
  Projection,
  ProjectionHost,
  ProjectionRegistry,
  TenantDirectory,
  type TenancyOptions,
  type TenantSummary,
  WithoutTenant,
} from '@eventcore/nestjs';
import {
  createPostgresDatabaseTenants,
  createPostgresSchemaTenants,
  type PostgresDatabaseTenants,
  type PostgresProjectionTx,
  type PostgresSchemaTenants,
} from '@eventcore/postgres';
import {
  ADMIN_URL,
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import { Client, type Pool } from 'pg';

/*
 * Schema-per-tenant multi-tenancy over HTTP on a real PostgreSQL database: three tenants with the
 * same stream ids, concurrent commands, each tenant's events in its own schema only, projections
 * with their checkpoints and read models in the tenant's schema, read-your-writes and health per
 * tenant, one shared pool whatever the number of tenants, and a guarded removal.
 */

const SECRET = 'tenancy-e2e-secret-of-32-bytes-or-more!';
const ADMIN_TOKEN = 'tenancy-e2e-admin-token';
const POOL_SIZE = 6;
const TENANTS = ['alpha', 'bravo', 'charlie'] as const;
const CLIENTS = 4;
const DEPOSITS_PER_CLIENT = 10;
const ACCOUNTS = ['acc1', 'acc2', 'acc3'];

function tokenFor(tenant: string, secret = SECRET): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ tenant, exp: Math.floor(Date.now() / 1000) + 300 })}`;
  return `Bearer ${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

type Deposited = {
  type: 'Deposited';
  data: { amount: number; tenant: string };
};

@Command()
class Deposit implements CommandLogic<number, Deposited> {
  @Stream() account: StreamId;
  @IsInt() @IsPositive() amount: number;
  /** Filled by the server from the context, to show where each event landed. */
  @IsString() tenant: string;
  constructor(account: StreamId, amount: number, tenant: string) {
    this.account = account;
    this.amount = amount;
    this.tenant = tenant;
  }
  initialState(): number {
    return 0;
  }
  apply(balance: number, event: RecordedEvent<Deposited>): number {
    return balance + event.data.amount;
  }
  handle(_balance: number, ctx: CommandContext<Deposited, Deposit>): void {
    ctx.emit('account', {
      type: 'Deposited',
      data: { amount: this.amount, tenant: this.tenant },
    });
  }
}

const TENANT_STORES = 'TENANT_STORES';

/** Balances per account, in a table of the tenant's own schema, exactly-once with the checkpoint. */
@Projection({ name: 'balances', streams: ['account-'], pollIntervalMs: 50 })
@Injectable()
class Balances extends ProjectionHost<PostgresProjectionTx> {
  constructor(
    private readonly directory: TenantDirectory,
    @Inject(TENANT_STORES) private readonly tenants: PostgresSchemaTenants,
  ) {
    super();
  }

  /** The read model's table of the tenant this worker serves. */
  table(): string {
    return `"${this.tenants.schemaOf(this.directory.currentTenantId()!)}".balances`;
  }

  override async setup(context: ProjectionContext<PostgresProjectionTx>): Promise<void> {
    await context.tx.query(
      `CREATE TABLE IF NOT EXISTS ${this.table()} (account text PRIMARY KEY, balance bigint NOT NULL)`,
    );
  }

  /** While set, the tenant's batches wait for it inside their transaction (a slow write). */
  hold: { tenant: string; until: Promise<void> } | undefined;

  async handle(
    event: RecordedEvent,
    context: ProjectionContext<PostgresProjectionTx>,
  ): Promise<void> {
    const hold = this.hold;
    if (hold !== undefined && hold.tenant === this.directory.currentTenantId()) await hold.until;
    const { amount } = event.data as Deposited['data'];
    await context.tx.query(
      `INSERT INTO ${this.table()} AS b (account, balance) VALUES ($1, $2)
       ON CONFLICT (account) DO UPDATE SET balance = b.balance + EXCLUDED.balance`,
      [event.streamId, amount],
    );
  }
}

@Controller()
class AccountsController {
  constructor(
    private readonly bus: CommandBus,
    private readonly directory: TenantDirectory,
    private readonly projections: ProjectionRegistry,
    private readonly balances: Balances,
    @Inject('POOL') private readonly pool: Pool,
  ) {}

  @Post('accounts/:id/deposits')
  async deposit(@Param('id') id: string, @Body() body: { amount: number }) {
    const tenant = this.directory.currentTenantId()!;
    const result = await this.bus.execute(
      new Deposit(streamId(`account-${id}`), body.amount, tenant),
    );
    return { tenant, position: result.position };
  }

  /** Read-your-writes: waits for this tenant's projection to pass `after`, then reads its table. */
  @Get('balances')
  async list(@Query('after') after: string) {
    await this.projections.waitFor(after as Position, { timeoutMs: 20_000 });
    const { rows } = await this.pool.query<{
      account: string;
      balance: string;
    }>(`SELECT account, balance FROM ${this.balances.table()} ORDER BY account`);
    return rows.map((r) => ({
      account: r.account,
      balance: Number(r.balance),
    }));
  }

  @Get('whoami')
  async whoami(@Query('delayMs') delayMs: string) {
    const before = this.directory.currentTenantId();
    await sleep(Number(delayMs));
    return { before, after: this.directory.currentTenantId() };
  }
}

@Controller('tenants')
@WithoutTenant()
@UseGuards(AdminTokenGuard)
class TenantsController {
  constructor(private readonly directory: TenantDirectory) {}

  @Post(':id')
  async create(@Param('id') id: string) {
    return { created: await this.directory.create(id) };
  }

  @Get()
  list() {
    return this.directory.list();
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id') id: string, @Query('confirm') confirm: string) {
    return this.directory.remove(id, { confirm });
  }

  @Post(':id/projections/stop')
  @HttpCode(204)
  stop(@Param('id') id: string) {
    return this.directory.stopProjections(id);
  }
}

describeWithServer('multi-tenancy, a schema per tenant on PostgreSQL (HTTP)', () => {
  let database: TestDatabase;
  let pool: Pool;
  let tenants: PostgresSchemaTenants;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = database.pool({ max: 2 });
    tenants = await createPostgresSchemaTenants({
      connectionString: database.url,
      poolSize: POOL_SIZE,
    });
    ({ app, http } = await startTenantApp(
      { placement: 'schema', resolver: jwtResolver(), stores: tenants },
      tenants,
      pool,
      {
        imports: [
          EventCoreHealthModule.forRoot({ path: 'health' }),
          AdminTokenModule.forRoot(ADMIN_TOKEN),
        ],
        controllers: [TenantsController],
      },
    ));
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('creates and lists tenants through the API, each in a migrated schema of its own', async () => {
    for (const tenant of TENANTS) {
      await http.post(`/tenants/${tenant}`).set(admin).expect(201, { created: true });
    }
    await http.post('/tenants/alpha').set(admin).expect(201, { created: false });
    const bad = await http.post('/tenants/Not-An-Id').set(admin).expect(400);
    expect(bad.body.code).toBe(ErrorCodes.invalidTenantId);
    await http.post('/tenants/delta').expect(401);
    const list = await http.get('/tenants').set(admin).expect(200);
    expect(list.body.map((t: TenantSummary) => [t.tenantId, t.location])).toEqual(
      TENANTS.map((t) => [t, `schema tenant_${t}`]),
    );
    const { rows } = await pool.query<{ schema: string }>(
      `SELECT table_schema AS schema FROM information_schema.tables
       WHERE table_name = 'events' ORDER BY 1`,
    );
    expect(rows.map((r) => r.schema)).toEqual(TENANTS.map((t) => `tenant_${t}`));
  });

  it('runs concurrent commands of every tenant on the same stream ids, each in its own schema only', async () => {
    const positions = new Map<string, Position>();
    await Promise.all(
      TENANTS.flatMap((tenant, t) =>
        Array.from({ length: CLIENTS }, async (_, client) => {
          for (let n = 0; n < DEPOSITS_PER_CLIENT; n++) {
            const account = ACCOUNTS[(client + n) % ACCOUNTS.length]!;
            const response = await http
              .post(`/accounts/${account}/deposits`)
              .set('Authorization', tokenFor(tenant))
              .send({ amount: t + 1 })
              .expect(201);
            expect(response.body.tenant).toBe(tenant);
          }
        }),
      ),
    );
    for (const tenant of TENANTS) {
      // Written after all the others of the tenant returned, so its position is after them.
      const last = await http
        .post('/accounts/acc1/deposits')
        .set('Authorization', tokenFor(tenant))
        .send({ amount: 1 })
        .expect(201);
      positions.set(tenant, last.body.position as Position);
    }
    for (const [t, tenant] of TENANTS.entries()) {
      const { rows } = await pool.query<{
        total: string;
        count: string;
        foreign: string;
      }>(
        `SELECT sum((data->>'amount')::int) AS total, count(*) AS count,
                count(*) FILTER (WHERE data->>'tenant' <> $1) AS foreign
         FROM "tenant_${tenant}".events`,
        [tenant],
      );
      expect(rows[0]).toEqual({
        total: String(CLIENTS * DEPOSITS_PER_CLIENT * (t + 1) + 1),
        count: String(CLIENTS * DEPOSITS_PER_CLIENT + 1),
        foreign: '0',
      });
      // Read-your-writes on the tenant's own projection, whose read model is in its schema.
      const balances = await http
        .get('/balances')
        .query({ after: positions.get(tenant) })
        .set('Authorization', tokenFor(tenant))
        .expect(200);
      const sum = (balances.body as { balance: number }[]).reduce((s, b) => s + b.balance, 0);
      expect(sum).toBe(CLIENTS * DEPOSITS_PER_CLIENT * (t + 1) + 1);
      const checkpoint = await pool.query(
        `SELECT position FROM "tenant_${tenant}".checkpoints WHERE projection = 'balances'`,
      );
      expect(checkpoint.rows).toHaveLength(1);
    }
  });

  it('keeps concurrent requests of different tenants apart across awaits', async () => {
    const answers = await Promise.all(
      Array.from({ length: 45 }, async (_, n) => {
        const tenant = TENANTS[n % 3]!;
        const response = await http
          .get('/whoami')
          .query({ delayMs: (n * 11) % 30 })
          .set('Authorization', tokenFor(tenant))
          .expect(200);
        return [tenant, response.body.before, response.body.after];
      }),
    );
    for (const [tenant, before, after] of answers)
      expect([before, after]).toEqual([tenant, tenant]);
  });

  it("never lets a client switch tenants, and answers health for the caller's tenant", async () => {
    const before = await pool.query(`SELECT count(*)::int AS n FROM "tenant_bravo".events`);
    await http
      .post('/accounts/acc1/deposits')
      .set('Authorization', tokenFor('alpha'))
      .set('X-Tenant-Id', 'bravo')
      .send({ amount: 5, tenant: 'bravo' })
      .expect(201, /"tenant":"alpha"/);
    const forged = await http
      .post('/accounts/acc1/deposits')
      .set('Authorization', tokenFor('bravo', 'not-the-secret-but-32-bytes-long-too'))
      .send({ amount: 5 })
      .expect(401);
    expect(forged.body.code).toBe(ErrorCodes.tenantUnresolved);
    const after = await pool.query(`SELECT count(*)::int AS n FROM "tenant_bravo".events`);
    expect(after.rows[0].n).toBe(before.rows[0].n);

    const health = await http.get('/health').set('Authorization', tokenFor('charlie')).expect(200);
    expect(health.body.info.eventStore).toMatchObject({
      status: 'up',
      tenant: 'charlie',
    });
  });

  it('serves every tenant from one pool of the configured size', async () => {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = $1 AND application_name = 'eventcore-tenants'`,
      [database.name],
    );
    expect(rows[0]!.n).toBeGreaterThan(0);
    expect(rows[0]!.n).toBeLessThanOrEqual(POOL_SIZE);
  });

  it('names the tenant whose projection batch holds every tenant back', async () => {
    const balances = app.get(Balances);
    let release!: () => void;
    balances.hold = { tenant: 'bravo', until: new Promise((resolve) => (release = resolve)) };
    try {
      await http
        .post('/accounts/acc2/deposits')
        .set('Authorization', tokenFor('bravo'))
        .send({ amount: 1 })
        .expect(201);
      // Asked through another tenant's store: the horizon is the server's.
      const alpha = (await tenants.open('alpha'))!.eventStore;
      let blocking: BlockingTransaction | null = null;
      for (let i = 0; i < 200 && blocking?.applicationName !== 'eventcore:tenant_bravo'; i++) {
        const holdBack = await alpha.logHoldBack();
        blocking = holdBack.blocking.known ? holdBack.blocking.transaction : null;
        await sleep(25);
      }
      expect(blocking).toMatchObject({
        applicationName: 'eventcore:tenant_bravo',
        database: database.name,
      });
    } finally {
      release();
      balances.hold = undefined;
    }
  });

  it('guards removal, then drops the tenant schema and record', async () => {
    const unconfirmed = await http.delete('/tenants/charlie').set(admin).expect(400);
    expect(unconfirmed.body.code).toBe(ErrorCodes.invalidOptions);
    const running = await http
      .delete('/tenants/charlie')
      .query({ confirm: 'charlie' })
      .set(admin)
      .expect(409);
    expect(running.body).toMatchObject({
      code: ErrorCodes.tenantBusy,
      detail: expect.stringContaining('balances'),
    });
    await http.post('/tenants/charlie/projections/stop').set(admin).expect(204);
    await http.delete('/tenants/charlie').query({ confirm: 'charlie' }).set(admin).expect(204);

    const list = await http.get('/tenants').set(admin).expect(200);
    expect(list.body.map((t: TenantSummary) => t.tenantId)).toEqual(['alpha', 'bravo']);
    const schema = await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'tenant_charlie'`);
    expect(schema.rows).toHaveLength(0);
    const gone = await http
      .post('/accounts/acc1/deposits')
      .set('Authorization', tokenFor('charlie'))
      .send({ amount: 1 })
      .expect(404);
    expect(gone.body.code).toBe(ErrorCodes.tenantNotFound);
    // The other tenants are untouched.
    await http
      .post('/accounts/acc1/deposits')
      .set('Authorization', tokenFor('bravo'))
      .send({ amount: 1 })
      .expect(201);
  });

  it('refuses a schema name long enough for prepared statement names to collide', async () => {
    const long = await createPostgresSchemaTenants({
      pool,
      schemaPrefix: 'tenants_of_acme_',
    });
    await expect(long.create('x'.repeat(30))).rejects.toThrow('longer than 40 characters');
    await long.close();
  });
});

describeWithServer(
  'multi-tenancy on PostgreSQL: projections of many tenants in bounded turns',
  () => {
    const MANY = Array.from({ length: 8 }, (_, n) => `shop${n}`);
    let database: TestDatabase;
    let pool: Pool;
    let app: INestApplication;
    let http: ReturnType<typeof request>;

    beforeAll(async () => {
      database = await createTestDatabase();
      pool = database.pool({ max: 2 });
      const tenants = await createPostgresSchemaTenants({
        connectionString: database.url,
        poolSize: POOL_SIZE,
      });
      ({ app, http } = await startTenantApp(
        {
          placement: 'schema',
          resolver: jwtResolver(),
          stores: tenants,
          scheduler: {
            maxActiveTenants: 2,
            maxTurnMs: 2_000,
            sweepIntervalMs: 60_000,
          },
        },
        tenants,
        pool,
      ));
      for (const tenant of MANY) await app.get(TenantDirectory).create(tenant);
    });

    afterAll(async () => {
      await app?.close();
      await database?.drop();
    });

    it('catches every tenant up, reads its own writes, and leaves no lease held between turns', async () => {
      const last = new Map<string, Position>();
      await Promise.all(
        MANY.map(async (tenant, t) => {
          for (let n = 0; n < 6; n++) {
            const response = await http
              .post(`/accounts/${ACCOUNTS[n % ACCOUNTS.length]}/deposits`)
              .set('Authorization', tokenFor(tenant))
              .send({ amount: t + 1 })
              .expect(201);
            last.set(tenant, response.body.position as Position);
          }
        }),
      );
      for (const [t, tenant] of MANY.entries()) {
        const balances = await http
          .get('/balances')
          .query({ after: last.get(tenant) })
          .set('Authorization', tokenFor(tenant))
          .expect(200);
        const sum = (balances.body as { balance: number }[]).reduce((s, b) => s + b.balance, 0);
        expect(sum).toBe(6 * (t + 1));
      }
      const directory = app.get(TenantDirectory);
      for (let i = 0; i < 500 && directory.projectionOverview().scheduler!.active > 0; i++) {
        await sleep(20);
      }
      expect(directory.projectionOverview()).toMatchObject({
        total: { tenants: MANY.length, lagEvents: 0, faulted: 0 },
        scheduler: { queued: 0, active: 0, maxActive: 2 },
      });
      for (const tenant of MANY) {
        const leases = await pool.query(`SELECT 1 FROM "tenant_${tenant}".projection_leases`);
        expect(leases.rows).toHaveLength(0);
      }
    });
  },
);

describeWithServer(
  'multi-tenancy on PostgreSQL: a database per tenant, servers added at run time',
  () => {
    let database: TestDatabase;
    let tenants: PostgresDatabaseTenants;
    let app: INestApplication;
    let http: ReturnType<typeof request>;
    let prefix: string;

    /** Runs one statement on the server's admin database. */
    async function admin<R>(sql: string, params: unknown[] = []): Promise<R[]> {
      const client = new Client({ connectionString: ADMIN_URL });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows as R[];
      } finally {
        await client.end();
      }
    }

    /** Runs one statement in the tenant's database. */
    async function inTenant<R>(tenant: string, sql: string): Promise<R[]> {
      const url = new URL(ADMIN_URL);
      url.pathname = `/${prefix}${tenant}`;
      const client = new Client({ connectionString: url.toString() });
      await client.connect();
      try {
        return (await client.query(sql)).rows as R[];
      } finally {
        await client.end();
      }
    }

    beforeAll(async () => {
      database = await createTestDatabase();
      // Tenant databases are named after the test's own, so a failed run leaves nothing ambiguous.
      prefix = `${database.name}_`;
      tenants = await createPostgresDatabaseTenants({
        directoryConnectionString: database.url,
        databasePrefix: prefix,
        idleTimeoutMs: 1_000,
      });
      await tenants.addServer('main', ADMIN_URL);
      // The read model's table is in each tenant's own database, in the store's default schema.
      ({ app, http } = await startTenantApp(
        { placement: 'database', resolver: jwtResolver(), stores: tenants },
        { schemaOf: () => 'eventcore' },
        database.pool({ max: 1 }),
      ));
    });

    afterAll(async () => {
      await app?.close();
      const left = await admin<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`,
        [prefix],
      );
      for (const { datname } of left)
        await admin(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      await database?.drop();
    });

    it('puts each tenant in a database of its own, on servers added while the app runs', async () => {
      const directory = app.get(TenantDirectory);
      expect(await directory.create('north')).toBe(true);
      expect(await directory.create('south')).toBe(true);
      // A server registered at run time takes the next tenant (the one with the fewest tenants).
      await tenants.addServer('second', ADMIN_URL);
      expect(await directory.create('west')).toBe(true);
      expect((await directory.list()).map((t) => [t.tenantId, t.location])).toEqual([
        ['north', `server main, database ${prefix}north`],
        ['south', `server main, database ${prefix}south`],
        ['west', `server second, database ${prefix}west`],
      ]);

      for (const [t, tenant] of ['north', 'south', 'west'].entries()) {
        for (let n = 0; n < 3; n++) {
          await http
            .post('/accounts/acc1/deposits')
            .set('Authorization', tokenFor(tenant))
            .send({ amount: t + 1 })
            .expect(201, new RegExp(`"tenant":"${tenant}"`));
        }
      }
      for (const [t, tenant] of ['north', 'south', 'west'].entries()) {
        const rows = await inTenant<{ n: number; total: number; foreign: number }>(
          tenant,
          `SELECT count(*)::int AS n, sum((data->>'amount')::int)::int AS total,
                count(*) FILTER (WHERE data->>'tenant' <> '${tenant}')::int AS foreign
         FROM eventcore.events`,
        );
        expect(rows[0]).toEqual({ n: 3, total: 3 * (t + 1), foreign: 0 });
      }

      await app.get(TenantDirectory).stopProjections('south');
      await directory.remove('south', { confirm: 'south' });
      const databases = await admin<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1`,
        [prefix],
      );
      expect(databases.map((d) => d.datname)).toEqual([`${prefix}north`, `${prefix}west`]);
      await http
        .post('/accounts/acc1/deposits')
        .set('Authorization', tokenFor('south'))
        .send({ amount: 1 })
        .expect(404);
    });
  },
);

function jwtResolver(): JwtClaimTenantResolver {
  return new JwtClaimTenantResolver({ key: { algorithm: 'HS256', secret: SECRET } });
}

/**
 * The accounts API and the balances projection under `tenancy`, listening on a free port:
 * `schemaStores` tells the read model each tenant's schema, `pool` is where it reads.
 */
async function startTenantApp(
  tenancy: TenancyOptions,
  schemaStores: unknown,
  pool: Pool,
  extra: { imports?: ModuleMetadata['imports']; controllers?: Type[] } = {},
): Promise<{ app: INestApplication; http: ReturnType<typeof request> }> {
  const moduleRef = await Test.createTestingModule({
    imports: [EventCoreModule.forRoot({ tenancy }), ...(extra.imports ?? [])],
    controllers: [AccountsController, ...(extra.controllers ?? [])],
    providers: [
      Balances,
      { provide: TENANT_STORES, useValue: schemaStores },
      { provide: 'POOL', useValue: pool },
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.useGlobalFilters(new EventCoreExceptionFilter());
  await app.listen(0, '127.0.0.1');
  return { app, http: request(await app.getUrl()) };
}
