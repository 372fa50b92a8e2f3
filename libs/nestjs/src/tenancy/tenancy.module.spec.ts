import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  type INestApplication,
  Injectable,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { IsString } from 'class-validator';
import {
  type AppendOptions,
  type AppendResult,
  Command,
  type CommandContext,
  type CommandLogic,
  ErrorCodes,
  type EventStore,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  type Position,
  type RecordedEvent,
  Stream,
  type StreamId,
  streamId,
  type StreamWrite,
} from '@eventcore/core';
import { CommandBus } from '../command-bus';
import { EventCoreModule } from '../eventcore.module';
import { EventCoreExceptionFilter } from '../http/eventcore-exception.filter';
import { InjectEventStore } from '../inject-event-store.decorator';
import { Projection } from '../projections/projection.decorator';
import { ProjectionHost } from '../projections/projection.host';
import { ProjectionRegistry } from '../projections/projection.registry';
import { JwtClaimTenantResolver } from './jwt-claim.tenant-resolver';
import { TenantRequiredError } from './tenancy.errors';
import { TenantDirectory } from './tenant-directory';
import type { TenantParts, TenantStores, TenantSummary } from './tenant-stores';
import { WithoutTenant } from './tenant.interceptor';

const SECRET = 'tenancy-spec-secret-of-32-bytes-or-more';

/** An HS256 token for `tenant` (any claim value), valid for a minute. */
function tokenFor(tenant: unknown, secret = SECRET): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'HS256' })}.${part({ tenant, exp: Math.floor(Date.now() / 1000) + 60 })}`;
  return `Bearer ${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** An in-memory store whose appends can be held, to keep a command in flight. */
class HeldStore extends InMemoryEventStore {
  hold: Promise<void> | undefined;
  override async append(
    writes: readonly StreamWrite[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    await this.hold;
    return super.append(writes, options);
  }
}

/** Tenants as in-memory stores: the placement contract without a database. */
class InMemoryTenantStores implements TenantStores {
  readonly placement = 'schema' as const;
  readonly tenants = new Map<string, TenantParts & { eventStore: HeldStore; createdAt: string }>();

  async create(tenantId: string): Promise<boolean> {
    if (this.tenants.has(tenantId)) return false;
    this.tenants.set(tenantId, {
      eventStore: new HeldStore(),
      checkpointStore: new InMemoryCheckpointStore(),
      createdAt: new Date().toISOString(),
    });
    return true;
  }

  async list(): Promise<readonly TenantSummary[]> {
    return [...this.tenants].map(([tenantId, t]) => ({
      tenantId,
      location: 'memory',
      createdAt: t.createdAt,
    }));
  }

  async open(tenantId: string): Promise<TenantParts | undefined> {
    return this.tenants.get(tenantId);
  }

  async remove(tenantId: string): Promise<boolean> {
    return this.tenants.delete(tenantId);
  }

  async close(): Promise<void> {}
}

type Noted = { type: 'Noted'; data: { text: string; before: string } };

/** Records the texts noted before it: a decision that depends on the state. */
@Command()
class AddNote implements CommandLogic<string[], Noted> {
  @Stream() notes: StreamId = streamId('notes');
  @IsString() text: string;
  constructor(text: string) {
    this.text = text;
  }
  initialState(): string[] {
    return [];
  }
  apply(state: string[], event: RecordedEvent<Noted>): string[] {
    return [...state, event.data.text];
  }
  handle(state: string[], ctx: CommandContext<Noted, AddNote>): void {
    ctx.emit('notes', { type: 'Noted', data: { text: this.text, before: state.join(',') } });
  }
}

/** Counts the notes of each tenant, asking the context which tenant it serves. */
@Projection({ name: 'note-count', streams: ['notes'], pollIntervalMs: 20 })
@Injectable()
class NoteCount extends ProjectionHost {
  readonly counts = new Map<string, number>();
  constructor(private readonly directory: TenantDirectory) {
    super();
  }
  handle(): void {
    const tenant = this.directory.currentTenantId()!;
    this.counts.set(tenant, (this.counts.get(tenant) ?? 0) + 1);
  }
}

@Controller()
class NotesController {
  constructor(
    private readonly bus: CommandBus,
    @InjectEventStore() private readonly store: EventStore,
    private readonly directory: TenantDirectory,
    private readonly projections: ProjectionRegistry,
    private readonly count: NoteCount,
  ) {}

  @Post('notes')
  async add(@Body() body: { text: string }) {
    const result = await this.bus.execute(new AddNote(body.text));
    return {
      tenant: this.directory.currentTenantId(),
      position: result.position,
      before: result.events[0]!.data.before,
    };
  }

  @Get('notes')
  async list(@Query('after') after?: string) {
    if (after !== undefined) await this.projections.waitFor(after as Position);
    const { events } = await this.store.readStreams([streamId('notes')]);
    return {
      texts: events.map((e) => (e.data as Noted['data']).text),
      counted: this.count.counts.get(this.directory.currentTenantId()!) ?? 0,
    };
  }

  @Get('whoami')
  async whoami(@Query('delayMs') delayMs: string) {
    const before = this.directory.currentTenantId();
    await sleep(Number(delayMs));
    await Promise.resolve();
    const after = this.directory.currentTenantId();
    return { before, after };
  }
}

@Controller('tenants')
@WithoutTenant()
class TenantsController {
  constructor(
    private readonly directory: TenantDirectory,
    private readonly bus: CommandBus,
  ) {}

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

  @Post('-/notes')
  note() {
    return this.bus.execute(new AddNote('nobody'));
  }
}

describe('EventCoreModule with tenancy (schema placement, in-memory stores)', () => {
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let stores: InMemoryTenantStores;

  beforeEach(async () => {
    stores = new InMemoryTenantStores();
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({
          tenancy: {
            placement: 'schema',
            resolver: new JwtClaimTenantResolver({ key: { algorithm: 'HS256', secret: SECRET } }),
            stores,
          },
          executor: { stateCache: { maxEntries: 100 } },
        }),
      ],
      controllers: [NotesController, TenantsController],
      providers: [NoteCount],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useGlobalFilters(new EventCoreExceptionFilter());
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
    for (const id of ['a', 'b', 'c'])
      await http.post(`/tenants/${id}`).expect(201, { created: true });
  });

  afterEach(() => app?.close());

  it('gives each of many concurrent requests its own tenant, across awaits', async () => {
    const tenants = ['a', 'b', 'c'];
    const answers = await Promise.all(
      Array.from({ length: 60 }, async (_, n) => {
        const tenant = tenants[n % 3]!;
        const response = await http
          .get('/whoami')
          .query({ delayMs: (n * 7) % 25 })
          .set('Authorization', tokenFor(tenant))
          .expect(200);
        return { tenant, ...(response.body as { before: string; after: string }) };
      }),
    );
    for (const { tenant, before, after } of answers)
      expect({ before, after }).toEqual({ before: tenant, after: tenant });
  });

  it("keeps each tenant's commands, reads and cached states apart, with the same stream ids", async () => {
    for (let round = 1; round <= 3; round++) {
      for (const tenant of ['a', 'b']) {
        const response = await http
          .post('/notes')
          .set('Authorization', tokenFor(tenant))
          .send({ text: `${tenant}${round}` })
          .expect(201);
        expect(response.body.tenant).toBe(tenant);
        // The decision saw only its own tenant's notes (the state cache is per tenant).
        expect(response.body.before).toBe(
          Array.from({ length: round - 1 }, (_, i) => `${tenant}${i + 1}`).join(','),
        );
      }
    }
    const a = await http.get('/notes').set('Authorization', tokenFor('a')).expect(200);
    const c = await http.get('/notes').set('Authorization', tokenFor('c')).expect(200);
    expect(a.body.texts).toEqual(['a1', 'a2', 'a3']);
    expect(c.body.texts).toEqual([]);
  });

  it("runs each tenant's projections on its own store, and waits for the caller's tenant", async () => {
    let last: Position | undefined;
    for (const text of ['x', 'y']) {
      const response = await http
        .post('/notes')
        .set('Authorization', tokenFor('b'))
        .send({ text })
        .expect(201);
      last = response.body.position as Position;
    }
    await http.post('/notes').set('Authorization', tokenFor('c')).send({ text: 'z' }).expect(201);
    const b = await http
      .get('/notes')
      .query({ after: last })
      .set('Authorization', tokenFor('b'))
      .expect(200);
    expect(b.body.counted).toBe(2);
  });

  it('never lets a client switch tenants: the verified claim wins over headers and body', async () => {
    await http
      .post('/notes')
      .set('Authorization', tokenFor('a'))
      .set('X-Tenant-Id', 'b')
      .send({ text: 'mine', tenant: 'b' })
      .expect(201, /"tenant":"a"/);
    const b = await http.get('/notes').set('Authorization', tokenFor('b')).expect(200);
    expect(b.body.texts).toEqual([]);
    // A token for b signed with another key is refused; nothing is written.
    const forged = await http
      .post('/notes')
      .set('Authorization', tokenFor('b', 'an-attacker-secret-of-32-bytes-or-more'))
      .send({ text: 'forged' })
      .expect(401);
    expect(forged.body.code).toBe(ErrorCodes.tenantUnresolved);
    expect((await http.get('/notes').set('Authorization', tokenFor('b'))).body.texts).toEqual([]);
  });

  it('answers bad tenant input with a 4xx problem, never a 5xx', async () => {
    const cases: [string | undefined, number, string][] = [
      [undefined, 401, ErrorCodes.tenantUnresolved],
      [tokenFor('Not-Valid'), 400, ErrorCodes.invalidTenantId],
      [tokenFor(' a'), 400, ErrorCodes.invalidTenantId],
      [tokenFor(7), 400, ErrorCodes.invalidTenantId],
      [tokenFor('zzz'), 404, ErrorCodes.tenantNotFound],
    ];
    for (const [authorization, status, code] of cases) {
      const call = http.post('/notes').send({ text: 't' });
      if (authorization !== undefined) void call.set('Authorization', authorization);
      const response = await call;
      expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
    }
  });

  it('fails a command with no tenant in context, clearly', async () => {
    await expect(app.get(CommandBus).execute(new AddNote('x'))).rejects.toThrow(
      TenantRequiredError,
    );
    const response = await http.post('/tenants/-/notes').expect(500);
    expect(response.body.code).toBe(ErrorCodes.tenantRequired);
  });

  it('runs work as a tenant outside requests with runAs', async () => {
    const directory = app.get(TenantDirectory);
    await directory.runAs('c', () => app.get(CommandBus).execute(new AddNote('job')));
    const c = await http.get('/notes').set('Authorization', tokenFor('c')).expect(200);
    expect(c.body.texts).toEqual(['job']);
  });

  it('guards removal: confirmation, running projections, commands in flight', async () => {
    await http.post('/notes').set('Authorization', tokenFor('a')).send({ text: 'n' }).expect(201);
    const unconfirmed = await http.delete('/tenants/a').expect(400);
    expect(unconfirmed.body.code).toBe(ErrorCodes.invalidOptions);
    const running = await http.delete('/tenants/a').query({ confirm: 'a' }).expect(409);
    expect(running.body).toMatchObject({
      code: ErrorCodes.tenantBusy,
      detail: expect.stringContaining('note-count'),
    });
    await http.post('/tenants/a/projections/stop').expect(204);

    let release!: () => void;
    stores.tenants.get('a')!.eventStore.hold = new Promise((resolve) => (release = resolve));
    const inFlight = http
      .post('/notes')
      .set('Authorization', tokenFor('a'))
      .send({ text: 'late' })
      .then((r) => r);
    await sleep(50);
    const busy = await http.delete('/tenants/a').query({ confirm: 'a' }).expect(409);
    expect(busy.body.detail).toContain('1 command(s) are in flight');
    release();
    expect((await inFlight).status).toBe(201);

    await http.delete('/tenants/a').query({ confirm: 'a' }).expect(204);
    const list = await http.get('/tenants').expect(200);
    expect(list.body.map((t: TenantSummary) => t.tenantId)).toEqual(['b', 'c']);
    const gone = await http
      .post('/notes')
      .set('Authorization', tokenFor('a'))
      .send({ text: 'x' })
      .expect(404);
    expect(gone.body.code).toBe(ErrorCodes.tenantNotFound);
    await http.delete('/tenants/a').query({ confirm: 'a' }).expect(404);
  });
});

describe('EventCoreModule tenancy options', () => {
  const resolver = new JwtClaimTenantResolver({ key: { algorithm: 'HS256', secret: SECRET } });

  async function compile(options: Record<string, unknown>) {
    const moduleRef = await Test.createTestingModule({
      imports: [EventCoreModule.forRoot(options as never)],
    }).compile();
    await moduleRef.close();
  }

  it.each([
    [
      'an unknown placement',
      { tenancy: { placement: 'shard', resolver, stores: new InMemoryTenantStores() } },
      'tenancy.placement',
    ],
    [
      'stores of another placement',
      { tenancy: { placement: 'database', resolver, stores: new InMemoryTenantStores() } },
      'tenancy.stores',
    ],
    [
      'no resolver',
      { tenancy: { placement: 'schema', stores: new InMemoryTenantStores() } },
      'tenancy.resolver',
    ],
    ['no stores', { tenancy: { placement: 'schema', resolver } }, 'tenancy.stores'],
    [
      'a store for everyone',
      {
        eventStore: new InMemoryEventStore(),
        tenancy: { placement: 'schema', resolver, stores: new InMemoryTenantStores() },
      },
      'eventStore',
    ],
    [
      'a shared snapshot store',
      {
        executor: { snapshots: {} },
        tenancy: { placement: 'schema', resolver, stores: new InMemoryTenantStores() },
      },
      'executor.snapshots',
    ],
  ])('refuses %s at startup', async (_, options, field) => {
    await expect(compile(options)).rejects.toThrow(`Invalid ${field}`);
  });
});
