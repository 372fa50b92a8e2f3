import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordedEvent } from '@eventcore/core';
import { type ForwardedEvent, JetStreamEventConsumer } from '@eventcore/nats';
import { createPostgresDatabaseTenants, type PostgresDatabaseTenants } from '@eventcore/postgres';
import {
  ADMIN_URL,
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import { connect, type NatsConnection } from 'nats';
import { Client } from 'pg';
import {
  deleteStreams,
  describeWithNats,
  NATS_URL,
  uniqueName,
} from '../libs/nats/src/__fixtures__/nats-testing';
import {
  type PostgresServer,
  postgresBinariesInstalled,
  startPostgresServer,
} from './support/postgres-server';
import { spawnTs, type TsProcess } from './support/ts-process';

/*
 * Tenants sharded over two real PostgreSQL servers (`placement: 'database'`): four tenants on the
 * shared test server, four on a private server started for this file. Two app instances (child
 * processes running test/support/shard-app.ts: the bank's accounts API, a balances projection per
 * tenant and the JetStream forwarder per tenant) take concurrent transfers of every tenant over
 * HTTP; one is SIGKILLed in the middle. Then, per tenant: money conserved, every acknowledged
 * transfer in the log exactly once, no event twice, the survivor's projections caught up and live
 * (its read model equals a fold of the log), and a JetStream consumer saw every event once.
 */

const SECRET = 'tenancy-shards-secret-of-32-bytes-or-more';
const SHARED = ['shared1', 'shared2', 'shared3', 'shared4'];
const PRIVATE = ['private1', 'private2', 'private3', 'private4'];
const TENANTS = [...SHARED, ...PRIVATE];
const ACCOUNTS = ['a', 'b', 'c', 'd'];
const OPENING_DEPOSIT = 10_000;
const TRANSFERS_PER_TENANT = 40;
/** Client-side concurrency over both instances and all tenants. */
const IN_FLIGHT = 16;
/** The victim is killed once this many transfers have been sent... */
const KILL_AFTER = 100;
/** ...and no transfer past this one is sent before it is dead. */
const KILL_BEFORE = 200;
/** Sends per transfer while the answer is unknown (connection lost, 5xx), all with one key. */
const MAX_SENDS = 4;

function tokenFor(tenant: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ tenant, exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `Bearer ${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

interface Reply {
  readonly status: number;
  readonly body: { code?: string; replayed?: boolean } & Record<string, unknown>;
}

/** One app instance: a child process serving HTTP on a port of its own. */
class Instance {
  alive = true;
  readonly inFlight = new Set<string>();

  constructor(
    readonly name: string,
    readonly process: TsProcess,
    readonly url: string,
  ) {}

  static async start(name: string, env: NodeJS.ProcessEnv): Promise<Instance> {
    const child = spawnTs('test/support/shard-app.ts', [], { env });
    running.add(child);
    try {
      const { listening } = await child.message<{ listening?: string }>(
        (m) => typeof m.listening === 'string',
      );
      return new Instance(name, child, listening!);
    } catch (error) {
      child.child.kill('SIGKILL');
      throw error;
    }
  }

  /** Sends one request for `tenant`; throws on a network error (a dead instance). */
  async call(tenant: string, method: string, path: string, body?: object, headers = {}) {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { Authorization: tokenFor(tenant), 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : JSON.parse(text) } as Reply;
  }

  async kill(): Promise<void> {
    this.alive = false;
    this.process.child.kill('SIGKILL');
    await this.process.exited();
  }

  tail(): string {
    return this.process
      .output()
      .split('\n')
      .slice(-20)
      .map((line) => `  [${this.name}] ${line}`)
      .join('\n');
  }
}

/** Child processes still running if Jest exits without `afterAll`. */
const running = new Set<TsProcess>();
process.once('exit', () => {
  for (const child of running) child.child.kill('SIGKILL');
});

/** One planned transfer and what became of it. */
interface Transfer {
  /** Also its Idempotency-Key and X-Correlation-Id. */
  readonly id: string;
  readonly tenant: string;
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly sends: { instance: string; status?: number; code?: string; error?: string }[];
  outcome?: 'acknowledged' | 'refused' | 'unknown';
  /** Acknowledged as a replay: an earlier send had committed it. */
  replayed?: boolean;
}

/** Balance and number of events per account stream, folded from a tenant's log. */
function fold(events: readonly RecordedEvent[]): Map<string, { balance: number; events: number }> {
  const accounts = new Map<string, { balance: number; events: number }>();
  for (const event of events) {
    const amount = (event.data as { amount?: number }).amount ?? 0;
    const sign =
      event.type === 'MoneyDeposited' || event.type === 'MoneyTransferredIn'
        ? 1
        : event.type === 'MoneyWithdrawn' || event.type === 'MoneyTransferredOut'
          ? -1
          : 0;
    const account = accounts.get(event.streamId) ?? { balance: 0, events: 0 };
    accounts.set(event.streamId, {
      balance: account.balance + sign * amount,
      events: account.events + 1,
    });
  }
  return accounts;
}

function shardSuite(): void {
  let server: PostgresServer;
  let database: TestDatabase;
  let tenants: PostgresDatabaseTenants;
  let prefix: string;
  let nc: NatsConnection;
  let stream: string;
  let consumer: JetStreamEventConsumer | undefined;
  let instances: Instance[] = [];

  /** Adds both instances' last lines to a failure, so it says what the servers saw. */
  async function explained<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const tails = instances.map((i) => i.tail()).join('\n');
      if (error instanceof Error) error.message += `\n\nLast output of the instances:\n${tails}`;
      throw error;
    }
  }

  beforeAll(async () => {
    server = await startPostgresServer({ maxConnections: 60 });
    console.log(`private PostgreSQL 15 server started in ${server.startMs} ms`);
    // The directory lives in the test's database on the shared server; the tenants' databases are
    // named after it, so a failed run leaves nothing ambiguous there.
    database = await createTestDatabase();
    prefix = `${database.name}_`;
    tenants = await createPostgresDatabaseTenants({
      directoryConnectionString: database.url,
      databasePrefix: prefix,
    });
    await tenants.addServer('shared', ADMIN_URL);
    await tenants.addServer('private', server.url());
    for (const tenant of SHARED) await tenants.create(tenant, 'shared');
    for (const tenant of PRIVATE) await tenants.create(tenant, 'private');

    nc = await connect({ servers: NATS_URL });
    stream = uniqueName('EVENTCORE_SHARDS');
    const env = {
      DIRECTORY_URL: database.url,
      DATABASE_PREFIX: prefix,
      JWT_SECRET: SECRET,
      NATS_URL,
      NATS_STREAM: stream,
      NATS_SUBJECT_PREFIX: `test.${stream}`,
    };
    instances = await Promise.all([Instance.start('app-1', env), Instance.start('app-2', env)]);
  }, 120_000);

  afterAll(async () => {
    await consumer?.stop();
    for (const child of running) child.child.kill('SIGKILL');
    await Promise.all([...running].map((child) => child.exited()));
    if (nc !== undefined) {
      await deleteStreams(nc, stream);
      await nc.close();
    }
    await tenants?.close();
    // Only the shared server's tenant databases need dropping: the private server goes whole.
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

  it(
    'keeps every tenant on both servers consistent when one of two instances is SIGKILLed under load',
    () =>
      explained(async () => {
        expect((await tenants.list()).map((t) => [t.tenantId, t.location])).toEqual(
          [...TENANTS]
            .sort()
            .map((t) => [
              t,
              `server ${t.startsWith('shared') ? 'shared' : 'private'}, database ${prefix}${t}`,
            ]),
        );

        // --- Accounts: opened on one instance, funded on the other, so both open every tenant ---
        await Promise.all(
          TENANTS.flatMap((tenant) =>
            ACCOUNTS.map(async (account, i) => {
              const [first, second] = i % 2 === 0 ? instances : [...instances].reverse();
              const opened = await first!.call(tenant, 'POST', '/accounts', {
                accountId: account,
                owner: `${tenant} ${account}`,
              });
              expect(opened.status).toBe(201);
              const funded = await second!.call(tenant, 'POST', `/accounts/${account}/deposits`, {
                amount: OPENING_DEPOSIT,
              });
              expect(funded.status).toBe(201);
            }),
          ),
        );

        // The victim: the instance running more (tenant, projection) workers, so takeovers happen.
        const running = async (instance: Instance) => {
          let live = 0;
          for (const tenant of TENANTS) {
            const reply = await instance.call(tenant, 'GET', '/projections');
            live += (reply.body as unknown as { state: string }[]).filter(
              (p) => p.state === 'live',
            ).length;
          }
          return live;
        };
        const liveBefore = await Promise.all(instances.map(running));
        const victim = instances[liveBefore[0]! >= liveBefore[1]! ? 0 : 1]!;
        const survivor = instances.find((i) => i !== victim)!;
        expect(Math.max(...liveBefore)).toBeGreaterThan(0);

        // --- Concurrent transfers of every tenant over both instances, a SIGKILL in the middle ---
        const transfers: Transfer[] = Array.from(
          { length: TENANTS.length * TRANSFERS_PER_TENANT },
          (_, i) => {
            const n = Math.floor(i / TENANTS.length);
            // Each round of sends takes every tenant once, in an order that shifts by one per
            // round, so each tenant's transfers alternate between the two instances.
            const tenant = TENANTS[(i + n) % TENANTS.length]!;
            const from = n % ACCOUNTS.length;
            const to = (from + 1 + (n % (ACCOUNTS.length - 1))) % ACCOUNTS.length;
            return {
              id: `transfer-${tenant}-${n}`,
              tenant,
              from: ACCOUNTS[from]!,
              to: ACCOUNTS[to]!,
              amount: 1 + ((i * 37) % 900),
              sends: [],
            };
          },
        );
        let next = 0;
        let roundRobin = 0;
        const pick = (avoid?: Instance): Instance => {
          const alive = instances.filter((i) => i.alive && i !== avoid);
          const candidates = alive.length > 0 ? alive : instances.filter((i) => i.alive);
          return candidates[roundRobin++ % candidates.length]!;
        };
        let killDone!: () => void;
        const killed = new Promise<void>((done) => (killDone = done));
        let inFlightAtKill = new Set<string>();
        const kill = async () => {
          // While it serves transfers (it normally has about half of them).
          for (let wait = 0; victim.inFlight.size < 2 && wait < 100; wait++) await sleep(5);
          victim.alive = false;
          inFlightAtKill = new Set(victim.inFlight);
          await victim.kill();
          killedAt = Date.now();
          killDone();
        };
        let killer: Promise<void> | undefined;
        let killedAt = 0;

        const send = async (transfer: Transfer, instance: Instance) => {
          instance.inFlight.add(transfer.id);
          try {
            const reply = await instance.call(
              transfer.tenant,
              'POST',
              '/transfers',
              { from: transfer.from, to: transfer.to, amount: transfer.amount },
              { 'Idempotency-Key': transfer.id, 'X-Correlation-Id': transfer.id },
            );
            transfer.sends.push({
              instance: instance.name,
              status: reply.status,
              code: reply.body.code,
            });
            if (reply.status === 201) {
              transfer.outcome = 'acknowledged';
              transfer.replayed = reply.body.replayed === true;
            } else if (reply.status === 409) transfer.outcome = 'refused';
            return reply.status;
          } catch (error) {
            transfer.sends.push({ instance: instance.name, error: String(error) });
            return undefined;
          } finally {
            instance.inFlight.delete(transfer.id);
          }
        };
        const worker = async () => {
          for (;;) {
            const i = next++;
            if (i >= transfers.length) return;
            if (i === KILL_AFTER) killer = kill();
            if (i >= KILL_BEFORE) await killed;
            const transfer = transfers[i]!;
            let instance = pick();
            // An unknown outcome is sent again to the other instance with the same key: the
            // tenant's store writes it at most once and answers a replay with the first result.
            for (let attempt = 1; attempt <= MAX_SENDS; attempt++) {
              const status = await send(transfer, instance);
              if (transfer.outcome !== undefined) break;
              if (status === 503) await sleep(500);
              instance = pick(instance);
            }
            // A 503 for exhausted conflict retries wrote nothing: on every send, it is a refusal.
            const contended = transfer.sends.every(
              (s) => s.status === 503 && s.code === 'eventcore.retries_exhausted',
            );
            transfer.outcome ??= contended ? 'refused' : 'unknown';
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
        await killer;
        expect(await victim.process.exited()).toBe('SIGKILL');

        const acknowledged = transfers.filter((t) => t.outcome === 'acknowledged');
        // Only the killed instance may leave a request unanswered, only one in flight when it died.
        const lost = transfers.flatMap((t) =>
          t.sends.filter((s) => s.status === undefined).map((s) => ({ id: t.id, ...s })),
        );
        expect(lost.filter((s) => s.instance !== victim.name || !inFlightAtKill.has(s.id))).toEqual(
          [],
        );
        expect(transfers.filter((t) => t.outcome === 'unknown')).toEqual([]);
        expect(acknowledged.length).toBeGreaterThanOrEqual(transfers.length / 2);

        // Each server holds its own tenants' databases.
        for (const [url, expected] of [
          [ADMIN_URL, SHARED],
          [server.url(), PRIVATE],
        ] as const) {
          const admin = new Client({ connectionString: url });
          await admin.connect();
          const { rows } = await admin
            .query<{ datname: string }>(
              'SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1',
              [prefix],
            )
            .finally(() => admin.end());
          expect(rows.map((r) => r.datname)).toEqual(expected.map((t) => `${prefix}${t}`));
        }

        // A transfer the victim acknowledged, sent again with its key to the survivor, per tenant:
        // the tenant's store answers the first result and writes nothing (the log checks below).
        for (const tenant of TENANTS) {
          const again = acknowledged.find(
            (t) => t.tenant === tenant && t.sends.at(-1)!.instance === victim.name,
          );
          if (again === undefined)
            throw new Error(`${victim.name} acknowledged nothing of ${tenant}`);
          const reply = await survivor.call(
            tenant,
            'POST',
            '/transfers',
            { from: again.from, to: again.to, amount: again.amount },
            { 'Idempotency-Key': again.id, 'X-Correlation-Id': again.id },
          );
          expect({ id: again.id, status: reply.status, replayed: reply.body.replayed }).toEqual({
            id: again.id,
            status: 201,
            replayed: true,
          });
        }

        // --- Per tenant: the log, the money, the survivor's projections -------------------------
        const logs = new Map<string, RecordedEvent[]>();
        for (const tenant of TENANTS) {
          const parts = (await tenants.open(tenant))!;
          const page = await parts.eventStore.readAll({ limit: 10_000 });
          const events = page.events as RecordedEvent[];
          // The accounts' events: what the projection and the forwarder take (the log also holds
          // the `$idempotency-` streams of the keys).
          const accounts = events.filter((e) => e.streamId.startsWith('account-'));
          logs.set(tenant, accounts);

          // No event twice; each acknowledged transfer once, as one debit and one credit.
          expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
          const byTransfer = new Map<string, string[]>();
          for (const event of events) {
            if (!event.type.startsWith('MoneyTransferred')) continue;
            const id = event.metadata.correlationId!;
            byTransfer.set(id, [...(byTransfer.get(id) ?? []), `${event.type} ${event.streamId}`]);
          }
          for (const transfer of acknowledged.filter((t) => t.tenant === tenant)) {
            expect({ id: transfer.id, events: byTransfer.get(transfer.id) }).toEqual({
              id: transfer.id,
              events: [
                `MoneyTransferredOut account-${transfer.from}`,
                `MoneyTransferredIn account-${transfer.to}`,
              ],
            });
          }
          // Anything else committed was in flight on the victim when it died.
          const acknowledgedIds = new Set(acknowledged.map((t) => t.id));
          expect(
            [...byTransfer.keys()].filter(
              (id) => !acknowledgedIds.has(id) && !inFlightAtKill.has(id),
            ),
          ).toEqual([]);

          // Money conserved, no balance below zero.
          const folded = fold(accounts);
          const balances = [...folded.values()].map((a) => a.balance);
          expect({ tenant, total: balances.reduce((sum, b) => sum + b, 0) }).toEqual({
            tenant,
            total: ACCOUNTS.length * OPENING_DEPOSIT,
          });
          for (const balance of balances) expect(balance).toBeGreaterThanOrEqual(0);

          // The survivor's projections (balances, forwarder) got past the last event and run there.
          const caughtUp = await survivor.call(
            tenant,
            'GET',
            `/caught-up?after=${encodeURIComponent(page.next)}`,
          );
          expect({ tenant, status: caughtUp.status, body: caughtUp.body }).toEqual({
            tenant,
            status: 200,
            body: [
              { name: 'balances', state: 'live' },
              { name: 'nats-forwarder', state: 'live' },
            ],
          });
          // The read model is the fold of the log: every event applied once.
          const rows = await parts.eventStore.sqlExecutor.query<{
            account: string;
            balance: string;
            events: number;
          }>('SELECT account, balance, events FROM eventcore.balances ORDER BY account');
          expect({
            tenant,
            rows: rows.map((r) => [r.account, Number(r.balance), r.events]),
          }).toEqual({
            tenant,
            rows: [...folded.entries()].sort().map(([id, a]) => [id, a.balance, a.events]),
          });
        }

        const caughtUpMs = Date.now() - killedAt;

        // --- JetStream: a consumer sees every event of every tenant exactly once -----------------
        const total = [...logs.values()].reduce((sum, events) => sum + events.length, 0);
        const seen: ForwardedEvent[] = [];
        consumer = new JetStreamEventConsumer({
          servers: NATS_URL,
          stream,
          durable: 'shards-check',
          handler: (event) => {
            seen.push(event);
          },
        });
        consumer.start();
        for (let wait = 0; seen.length < total && wait < 300; wait++) await sleep(100);
        // Long enough for a duplicate to arrive behind the last expected message.
        await sleep(1_000);
        expect(consumer.stats()).toMatchObject({ duplicates: 0, retried: 0, deadLettered: 0 });
        for (const tenant of TENANTS) {
          expect({
            tenant,
            ids: seen
              .filter((e) => e.tenant === tenant)
              .map((e) => e.id)
              .sort(),
          }).toEqual({
            tenant,
            ids: logs
              .get(tenant)!
              .map((e) => e.id)
              .sort(),
          });
        }
        expect(seen).toHaveLength(total);

        console.log(
          JSON.stringify({
            tenants: TENANTS.length,
            transfers: transfers.length,
            acknowledged: acknowledged.length,
            refused: transfers.filter((t) => t.outcome === 'refused').length,
            inFlightAtKill: inFlightAtKill.size,
            resent: transfers.filter((t) => t.sends.length > 1).length,
            replayed: transfers.filter((t) => t.replayed).length,
            victimLiveWorkers: liveBefore[instances.indexOf(victim)],
            caughtUpMsAfterKill: caughtUpMs,
            accountEvents: total,
          }),
        );
      }),
    120_000,
  );
}

if (postgresBinariesInstalled()) {
  describeWithServer('tenants sharded over two PostgreSQL servers, two instances', () =>
    describeWithNats('with the JetStream forwarder', shardSuite),
  );
} else if (process.env.CI === 'true') {
  describe('tenants sharded over two PostgreSQL servers, two instances', () => {
    it('needs the PostgreSQL 15 server binaries', () => {
      throw new Error(
        '/usr/lib/postgresql/15/bin/initdb is missing: apt-get install postgresql-15',
      );
    });
  });
} else {
  console.warn(
    'SKIPPED "tenants sharded over two PostgreSQL servers": no /usr/lib/postgresql/15/bin/initdb',
  );
  describe.skip('tenants sharded over two PostgreSQL servers [SKIPPED: no PostgreSQL 15 binaries]', () =>
    shardSuite());
}
