import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Position } from '@eventcore/core';
import { PgPoolSqlExecutor, PostgresEventStore } from '@eventcore/postgres';
import {
  ADMIN_URL,
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import type { Pool } from 'pg';
import { type PgBouncer, startPgBouncer } from './support/pgbouncer';

/*
 * Three real bank processes (the built app, `node dist/apps/bank/src/main.js`) on one PostgreSQL
 * database, concurrent transfers over HTTP spread over all three, and a SIGKILL in the middle of
 * them aimed at the process that runs the balances projection. Afterwards: money is conserved, every
 * acknowledged transfer is in the log exactly once, another process took the projection over, and
 * the read model equals both the streams and a rebuild from zero.
 *
 * It runs twice: with the processes connected to the server directly, and through a real PgBouncer
 * (Debian's 1.18) in transaction pooling mode with `EVENTCORE_POOLER=transaction` — the store's
 * `pooler: 'transaction'`: no named prepared statements, no LISTEN (projections poll), and the
 * projection elected by a lease row, since session advisory locks do not survive transaction
 * pooling. Takeover then waits for the dead holder's lease to expire (15 s).
 *
 * Each process's output is kept and the last lines of every one are added to a failure's message.
 * `npm run build` runs first, once per run of this file; it deletes and rewrites dist/, so another
 * build (or `npm run bench`) in the same checkout at the same moment can make a process fail to start.
 */

const ROOT = resolve(__dirname, '..');
const MAIN = 'dist/apps/bank/src/main.js';
const PROJECTION = 'account-balances';

const ACCOUNTS = 10;
const OPENING_DEPOSIT = 10_000;
const TRANSFERS = 300;
/** Client-side concurrency: requests in flight at once, over all instances. */
const IN_FLIGHT = 16;
/** The projection's process is killed once this many transfers have been sent... */
const KILL_AFTER = 100;
/** ...and no transfer past this one is sent before it is dead, so survivors get a real share. */
const KILL_BEFORE = 220;
/** Attempts per transfer when an answer is unknown (connection lost, 5xx), all with one key. */
const MAX_SENDS = 4;

/** Generous: this is a 2-core machine running PostgreSQL, Jest and three Node processes. */
const START_DEADLINE_MS = 45_000;
const TAKEOVER_DEADLINE_MS = 30_000;
const STRONG_READ_TIMEOUT_MS = 25_000;

/** The projections' routes are for administrators: every process gets this token. */
const ADMIN_TOKEN = 'bank-multi-instance-admin-token';
const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}` };

const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acc${String(i).padStart(2, '0')}`);

/** What a bank write endpoint answers (apps/bank/src/accounts/accounts.controller.ts). */
interface WriteResponse {
  readonly commandId: string;
  readonly position: string;
  readonly streamVersions: Readonly<Record<string, number>>;
  readonly attempts: number;
  readonly replayed: boolean;
}

interface ProjectionStatus {
  readonly name: string;
  readonly state: string;
  readonly position: string | null;
}

interface AccountView {
  readonly id: string;
  readonly owner: string;
  readonly balance: number;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
}

/** One planned transfer and what became of it. */
interface Transfer {
  /** Also its Idempotency-Key and X-Correlation-Id, so its events can be found in the log. */
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  /** Every request sent for it: the answer's status and error code, or the network error. */
  readonly sends: { instance: string; status?: number; code?: string; error?: string }[];
  /**
   * acknowledged: a 201; refused: a 409, or a 503 for exhausted conflict retries on every send
   * (nothing written); unknown: no definitive answer.
   */
  outcome?: 'acknowledged' | 'refused' | 'unknown';
  response?: WriteResponse;
}

/** One `node dist/apps/bank/src/main.js`, its output and the requests it is serving. */
class BankProcess {
  url = '';
  /** In the client's rotation (false once chosen to be killed). */
  alive = true;
  readonly inFlight = new Set<string>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly lines: string[] = [];
  private partial = { stdout: '', stderr: '' };

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((done) =>
      // 'close', not 'exit': it comes after the last output, so a failure message includes it.
      child.once('close', (code, signal) => {
        this.alive = false;
        this.record('exit', `exited with code ${code} signal ${signal}`);
        done({ code, signal });
      }),
    );
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.collect('stdout', chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.collect('stderr', chunk));
  }

  /** Spawns the built app with `PORT=0` and resolves once it listens and `/health` answers 200. */
  static async start(
    name: string,
    databaseUrl: string,
    env: Readonly<Record<string, string>> = {},
  ): Promise<BankProcess> {
    const child = spawn(process.execPath, [MAIN], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl,
        EVENTCORE_ADMIN_TOKEN: ADMIN_TOKEN,
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bank = new BankProcess(name, child);
    running.add(bank);
    bank.url = await bank.listeningUrl();
    await eventually(`${name} /health answers 200`, START_DEADLINE_MS, async () => {
      const health = await call(bank.url, 'GET', '/health');
      if (health.status !== 200) throw new Error(`/health answered ${health.status}`);
    });
    return bank;
  }

  /** Sends SIGKILL (no shutdown hooks run) and waits for the exit. */
  async kill(): Promise<void> {
    this.alive = false;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
    await this.exited;
    running.delete(this);
  }

  /** The last lines of output, for failure messages (without Nest's module and route listing). */
  tail(count = 25): string {
    return this.lines
      .filter((line) => !/\[(InstanceLoader|RoutesResolver|RouterExplorer)\]/.test(line))
      .slice(-count)
      .map((line) => `  [${this.name}] ${line}`)
      .join('\n');
  }

  private listeningUrl(): Promise<string> {
    return new Promise((found, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`${this.name} did not log "Listening on" in time`)),
        START_DEADLINE_MS,
      );
      const check = () => {
        const line = this.lines.find((l) => /Listening on http:\/\/\S+/.test(l));
        if (line === undefined) return false;
        clearTimeout(timer);
        found(/Listening on (http:\/\/\S+)/.exec(line)![1]!);
        return true;
      };
      this.onLine = check;
      void this.exited.then(() => {
        clearTimeout(timer);
        fail(new Error(`${this.name} exited before listening`));
      });
    });
  }

  private onLine: () => boolean = () => true;

  private collect(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split('\n');
    this.partial[stream] = parts.pop()!;
    for (const part of parts) this.record(stream, part);
  }

  private record(stream: string, line: string): void {
    // eslint-disable-next-line no-control-regex
    this.lines.push(`${stream}: ${line.replace(/\x1b\[[0-9;]*m/g, '')}`);
    if (this.lines.length > 400) this.lines.splice(0, this.lines.length - 400);
    if (this.onLine()) this.onLine = () => true;
  }
}

/** Every process started and not yet reaped; killed if Jest exits without `afterAll`. */
const running = new Set<BankProcess>();
process.once('exit', () => {
  for (const bank of running) bank.child.kill('SIGKILL');
});

/** How the bank processes reach the database. */
const ROUTES = [
  { name: 'directly', pgbouncer: false },
  { name: "through PgBouncer in transaction mode (pooler: 'transaction')", pgbouncer: true },
] as const;

let built: Promise<unknown> | undefined;
/** Builds once (the packages with tsc, then the apps), so the processes never run a stale dist/. */
const build = () =>
  (built ??= promisify(execFile)('npm', ['run', 'build'], {
    cwd: ROOT,
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  }));

for (const route of ROUTES) {
  describeWithServer(`bank on three processes sharing one PostgreSQL database, ${route.name}`, () =>
    multiInstanceSuite(route),
  );
}

function multiInstanceSuite(route: (typeof ROUTES)[number]): void {
  let database: TestDatabase;
  let pool: Pool;
  let banks: BankProcess[] = [];
  let bouncer: PgBouncer | undefined;
  /** Orders two position tokens the way the store does (to apps they are opaque). */
  const comparePositions = (a: string, b: string): number =>
    new PostgresEventStore(new PgPoolSqlExecutor(pool, false)).comparePositions(
      a as Position,
      b as Position,
    );

  /** Adds every process's last lines to an error, so a failure says what the servers saw. */
  async function explained<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const logs = banks.length > 0 ? banks : [...running];
      const pooler =
        bouncer === undefined ? [] : [`  [pgbouncer] ${bouncer.output().slice(-2_000)}`];
      const tails = [...logs.map((b) => b.tail()), ...pooler].join('\n');
      if (error instanceof Error) {
        error.message += `\n\nLast output of the bank processes:\n${tails}`;
        throw error;
      }
      throw new Error(`${String(error)}\n\nLast output of the bank processes:\n${tails}`, {
        cause: error,
      });
    }
  }

  beforeAll(async () => {
    await build();
    database = await createTestDatabase();
    // The test's own checks go to the server directly.
    pool = database.pool({ max: 2 });
    if (route.pgbouncer) bouncer = await startPgBouncer(ADMIN_URL);
    const url = bouncer?.through(database.url) ?? database.url;
    const env: Record<string, string> = route.pgbouncer ? { EVENTCORE_POOLER: 'transaction' } : {};
    await explained(async () => {
      // All three at once on an empty database: migrations and the read model's tables must
      // tolerate concurrent starts (they take advisory locks).
      banks = await Promise.all([
        BankProcess.start('bank-1', url, env),
        BankProcess.start('bank-2', url, env),
        BankProcess.start('bank-3', url, env),
      ]);
    });
  }, 300_000);

  afterAll(async () => {
    await Promise.all([...running].map((bank) => bank.kill()));
    await bouncer?.stop();
    await database?.drop();
  }, 60_000);

  it(
    'conserves money, loses no acknowledged transfer, and hands the projection over when its process is SIGKILLed',
    () =>
      explained(async () => {
        // --- Accounts, opened and funded over all three instances -------------------------------
        await Promise.all(
          ids.map(async (id, i) => {
            const bank = banks[i % banks.length]!;
            expectStatus(
              await call(bank.url, 'POST', '/accounts', { accountId: id, owner: `Owner ${id}` }),
              201,
            );
            expectStatus(
              await call(bank.url, 'POST', `/accounts/${id}/deposits`, { amount: OPENING_DEPOSIT }),
              201,
            );
          }),
        );
        const initialTotal = ACCOUNTS * OPENING_DEPOSIT;

        // Exactly one process runs the projection; the two others stand by.
        const firstRunner = await eventually('one process runs the projection', 20_000, () =>
          projectionRunner(banks),
        );

        // --- Concurrent transfers, round-robin, with a SIGKILL in the middle ---------------------
        const transfers: Transfer[] = Array.from({ length: TRANSFERS }, (_, i) => {
          // Every third transfer drains the first account, which soon runs short: from then on,
          // concurrent debits race at its last funds, and the funds rule must hold across
          // processes (a 409 account.insufficient_funds, never a negative balance).
          const from = i % 3 === 0 ? 0 : i % ACCOUNTS;
          const to = (from + 1 + ((i * 7) % (ACCOUNTS - 1))) % ACCOUNTS;
          return {
            id: `transfer-${i}`,
            from: ids[from]!,
            to: ids[to]!,
            amount: 1 + ((i * 37) % 800),
            sends: [],
          };
        });

        let next = 0;
        let roundRobin = 0;
        const pick = (avoid?: BankProcess): BankProcess => {
          const alive = banks.filter((b) => b.alive && b !== avoid);
          const candidates = alive.length > 0 ? alive : banks.filter((b) => b.alive);
          if (candidates.length === 0) throw new Error('no bank process left to send to');
          return candidates[roundRobin++ % candidates.length]!;
        };

        let startKill!: () => void;
        const killTime = new Promise<void>((go) => (startKill = go));
        let inFlightAtKill = new Set<string>();
        let sentBeforeKill = 0;
        let victim: BankProcess | undefined;
        let killed!: () => void;
        const killDone = new Promise<void>((done) => (killed = done));

        const killer = (async () => {
          await killTime;
          // Whoever runs the projection now (it could have moved since the start).
          victim = await eventually('one process runs the projection', 20_000, () =>
            projectionRunner(banks.filter((b) => b.alive)),
          );
          // Kill it while it is serving transfers (it normally has about a third of them).
          await eventually(
            `${victim.name} has transfers in flight`,
            10_000,
            async () => {
              if (victim!.inFlight.size < 2) throw new Error('fewer than 2 in flight');
            },
            1,
          ).catch(() => undefined);
          victim.alive = false; // out of the rotation, then dead
          inFlightAtKill = new Set(victim.inFlight);
          sentBeforeKill = next;
          await victim.kill();
          killed();
        })();
        killer.catch(() => killed()); // the failure itself is awaited below

        const send = async (transfer: Transfer, bank: BankProcess): Promise<number | undefined> => {
          bank.inFlight.add(transfer.id);
          try {
            const reply = await call(
              bank.url,
              'POST',
              '/transfers',
              { from: transfer.from, to: transfer.to, amount: transfer.amount },
              { 'Idempotency-Key': transfer.id, 'X-Correlation-Id': transfer.id },
            );
            const code = (reply.body as { code?: string } | undefined)?.code;
            transfer.sends.push({ instance: bank.name, status: reply.status, code });
            if (reply.status === 201) {
              transfer.outcome = 'acknowledged';
              transfer.response = reply.body as WriteResponse;
            } else if (reply.status === 409) {
              transfer.outcome = 'refused';
            }
            return reply.status;
          } catch (error) {
            transfer.sends.push({ instance: bank.name, error: describeError(error) });
            return undefined;
          } finally {
            bank.inFlight.delete(transfer.id);
          }
        };

        const worker = async () => {
          for (;;) {
            const i = next++;
            if (i >= TRANSFERS) return;
            if (i === KILL_AFTER) startKill();
            if (i >= KILL_BEFORE) await killDone;
            const transfer = transfers[i]!;
            let bank = pick();
            // An unknown outcome (connection lost, 5xx) is sent again elsewhere with the same
            // Idempotency-Key: the store writes it at most once and answers a replay with the first result.
            // A 503 for exhausted conflict retries wrote nothing: it is sent again after its
            // Retry-After, like an unknown outcome.
            for (let attempt = 1; attempt <= MAX_SENDS; attempt++) {
              const status = await send(transfer, bank);
              if (transfer.outcome !== undefined) break;
              if (status === 503) await new Promise((resolve) => setTimeout(resolve, 1_000));
              bank = pick(bank);
            }
            const contended = transfer.sends.every(
              (s) => s.status === 503 && s.code === 'eventcore.retries_exhausted',
            );
            transfer.outcome ??= contended ? 'refused' : 'unknown';
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
        await killer;
        const killedBank = victim!;
        const survivors = banks.filter((b) => b !== killedBank);
        expect(killedBank.name).toBe(firstRunner.name);
        expect((await killedBank.exited).signal).toBe('SIGKILL');
        expect(sentBeforeKill).toBeGreaterThanOrEqual(KILL_AFTER);
        expect(sentBeforeKill).toBeLessThan(TRANSFERS);

        const acknowledged = transfers.filter((t) => t.outcome === 'acknowledged');
        const refused = transfers.filter((t) => t.outcome === 'refused');
        const unknown = transfers.filter((t) => t.outcome === 'unknown');
        const failedSends = transfers.flatMap((t) =>
          t.sends.filter((s) => s.status === undefined).map((s) => ({ t, s })),
        );
        const retried = transfers.filter((t) => t.sends.length > 1);
        const replayed = acknowledged.filter((t) => t.response!.replayed);

        // Only the killed process may leave a request unanswered, and only one in flight when it died.
        expect(
          failedSends
            .filter(({ s }) => s.instance !== killedBank.name)
            .map(({ t, s }) => ({ id: t.id, ...s })),
        ).toEqual([]);
        expect(failedSends.every(({ t }) => inFlightAtKill.has(t.id))).toBe(true);
        expect(unknown.map((t) => t.id)).toEqual([]);
        // Every answer is 201, 409 (a business rule) or 503 (conflict retries exhausted); most commit.
        expect(
          transfers.flatMap((t) =>
            t.sends
              .filter(
                (s) =>
                  s.status !== undefined &&
                  s.status !== 201 &&
                  (s.status !== 409 || s.code !== 'account.insufficient_funds') &&
                  (s.status !== 503 || s.code !== 'eventcore.retries_exhausted'),
              )
              .map((s) => ({ id: t.id, ...s })),
          ),
        ).toEqual([]);
        expect(acknowledged.length).toBeGreaterThanOrEqual(TRANSFERS / 2);

        // --- Balances folded from the streams: money conserved, none negative -------------------
        const folded = await foldedBalances(survivors[0]!);
        expect(folded.reduce((sum, a) => sum + a.balance, 0)).toBe(initialTotal);
        for (const account of folded) expect(account.balance).toBeGreaterThanOrEqual(0);

        // --- A transfer the killed process acknowledged, sent again with its key to both
        // survivors: each answers the first result (replayed) and writes nothing. The first
        // result's commandId and stream versions; the position may be later (the replay's own
        // read, still good for read-your-writes) and attempts are the replay's own -------------
        const answeredByKilled =
          acknowledged.find((t) => t.sends.at(-1)!.instance === killedBank.name) ??
          acknowledged[0]!;
        for (const bank of survivors) {
          const again = await call(
            bank.url,
            'POST',
            '/transfers',
            {
              from: answeredByKilled.from,
              to: answeredByKilled.to,
              amount: answeredByKilled.amount,
            },
            { 'Idempotency-Key': answeredByKilled.id },
          );
          expectStatus(again, 201);
          const first = answeredByKilled.response!;
          const replay = again.body as WriteResponse;
          expect({ ...replay, position: undefined, attempts: undefined }).toEqual({
            ...first,
            position: undefined,
            attempts: undefined,
            replayed: true,
          });
          expect(comparePositions(replay.position, first.position)).toBeGreaterThanOrEqual(0);
        }

        // --- The log: each acknowledged transfer exactly once, nothing else ---------------------
        const { rows } = await pool.query<{
          correlation_id: string;
          type: 'MoneyTransferredOut' | 'MoneyTransferredIn';
          stream_id: string;
          stream_version: string;
          data: { to?: string; from?: string; amount: number };
        }>(
          `SELECT metadata->>'correlationId' AS correlation_id, type, stream_id, stream_version, data
           FROM eventcore.events
          WHERE type IN ('MoneyTransferredOut', 'MoneyTransferredIn')
          ORDER BY global_position`,
        );
        const logged = new Map<string, typeof rows>();
        for (const row of rows) {
          logged.set(row.correlation_id, [...(logged.get(row.correlation_id) ?? []), row]);
        }
        const committed = new Set(logged.keys());
        const planned = new Set(transfers.map((t) => t.id));
        expect([...committed].filter((id) => !planned.has(id))).toEqual([]);
        for (const transfer of acknowledged) {
          const events = logged.get(transfer.id) ?? [];
          const { streamVersions } = transfer.response!;
          expect({ id: transfer.id, events: events.map(eventSummary) }).toEqual({
            id: transfer.id,
            events: expect.arrayContaining([
              {
                type: 'MoneyTransferredOut',
                stream: `account-${transfer.from}`,
                version: streamVersions[`account-${transfer.from}`],
                data: { to: `account-${transfer.to}`, amount: transfer.amount },
              },
              {
                type: 'MoneyTransferredIn',
                stream: `account-${transfer.to}`,
                version: streamVersions[`account-${transfer.to}`],
                data: { from: `account-${transfer.from}`, amount: transfer.amount },
              },
            ]),
          });
          expect(events).toHaveLength(2);
        }
        // Every committed transfer is one debit of its sender and one credit of its receiver.
        for (const [id, events] of logged) {
          const transfer = transfers.find((t) => t.id === id)!;
          expect({ id, events: events.map((e) => [e.type, e.stream_id, e.data.amount]) }).toEqual({
            id,
            events: [
              ['MoneyTransferredOut', `account-${transfer.from}`, transfer.amount],
              ['MoneyTransferredIn', `account-${transfer.to}`, transfer.amount],
            ],
          });
        }
        // A 409 writes nothing. (Not asserted for a 409 answering a re-send: the first send, to
        // the killed process, may still commit after it, like any unanswered request.)
        for (const transfer of refused.filter((t) => t.sends.every((s) => s.status !== undefined)))
          expect({ id: transfer.id, events: logged.get(transfer.id) }).toEqual({
            id: transfer.id,
            events: undefined,
          });
        // acknowledged ⊆ committed ⊆ acknowledged ∪ (in flight at the kill and never answered)
        const acknowledgedIds = new Set(acknowledged.map((t) => t.id));
        expect([...acknowledgedIds].filter((id) => !committed.has(id))).toEqual([]);
        expect(
          [...committed].filter((id) => !acknowledgedIds.has(id) && !inFlightAtKill.has(id)),
        ).toEqual([]);
        expect(committed.size).toBeLessThanOrEqual(acknowledged.length + inFlightAtKill.size);
        // The balances are exactly the opening deposits moved by the committed transfers.
        const expected = new Map(ids.map((id) => [id, OPENING_DEPOSIT]));
        for (const row of rows) {
          const account = row.stream_id.slice('account-'.length);
          const sign = row.type === 'MoneyTransferredIn' ? 1 : -1;
          expected.set(account, expected.get(account)! + sign * row.data.amount);
        }
        expect(folded).toEqual(
          ids.map((id) => ({ id, owner: `Owner ${id}`, balance: expected.get(id) })),
        );

        // --- Takeover: a survivor runs the projection ---------------------------------------------
        const runner = await eventually(
          'a survivor runs the projection, live',
          TAKEOVER_DEADLINE_MS,
          async () => {
            const bank = await projectionRunner(survivors);
            const state = (await projectionOf(bank)).state;
            if (state !== 'live') throw new Error(`${bank.name} is ${state}`);
            return bank;
          },
        );
        const standby = survivors.find((b) => b !== runner)!;
        expect((await projectionOf(standby)).state).toBe('standby');

        // --- The read model equals the streams (read your writes through both survivors) --------
        // Written after every transfer was answered, so its position is after all of them.
        const marker = await call(standby.url, 'POST', `/accounts/${ids[0]}/deposits`, {
          amount: 1,
        });
        expectStatus(marker, 201);
        const markerPosition = (marker.body as WriteResponse).position;
        for (const transfer of acknowledged) {
          expect(comparePositions(markerPosition, transfer.response!.position)).toBeGreaterThan(0);
        }
        const streams = await foldedBalances(runner);
        expect(streams.reduce((sum, a) => sum + a.balance, 0)).toBe(initialTotal + 1);
        for (const bank of [runner, standby]) {
          const read = await strongRead(bank, markerPosition);
          expect({ via: bank.name, ...read }).toEqual({
            via: bank.name,
            accounts: streams,
            total: initialTotal + 1,
          });
        }

        // --- ...and a rebuild from zero on the process that runs it ends at the same rows -------
        expectStatus(
          await call(runner.url, 'POST', `/projections/${PROJECTION}/rebuild`, undefined, ADMIN),
          200,
        );
        await eventually('the rebuilt projection is live', TAKEOVER_DEADLINE_MS, async () => {
          const state = (await projectionOf(runner)).state;
          if (state !== 'live') throw new Error(`${runner.name} is ${state}`);
        });
        for (const bank of [runner, standby]) {
          const read = await strongRead(bank, markerPosition);
          expect({ via: bank.name, ...read }).toEqual({
            via: bank.name,
            accounts: streams,
            total: initialTotal + 1,
          });
        }

        console.log(
          `bank-multi-instance (${route.name}): ${TRANSFERS} transfers, ${IN_FLIGHT} in flight over ${banks.length} processes; ` +
            `${acknowledged.length} acknowledged (${replayed.length} by an idempotent replay), ` +
            `${refused.length} refused (409: ${refusalCodes(refused)}); ${killedBank.name} (projection runner) SIGKILLed after ` +
            `${sentBeforeKill} sent with ${inFlightAtKill.size} in flight to it; ${failedSends.length} sends ` +
            `failed without an answer, ${retried.length} transfers re-sent with their key; ` +
            `${committed.size} committed; ${runner.name} took the projection over.`,
        );
      }),
    120_000,
  );
}

/** Which of `banks` runs the projection; fails unless exactly one does and the rest stand by. */
async function projectionRunner(banks: readonly BankProcess[]): Promise<BankProcess> {
  const states = await Promise.all(
    banks.map(async (bank) => ({ bank, state: (await projectionOf(bank)).state })),
  );
  const running = states.filter((s) => ['live', 'catching-up', 'rebuilding'].includes(s.state));
  const others = states.filter((s) => !running.includes(s));
  if (running.length !== 1 || others.some((s) => s.state !== 'standby')) {
    throw new Error(
      `expected one runner and the rest on standby, got ${states.map((s) => `${s.bank.name}=${s.state}`).join(', ')}`,
    );
  }
  return running[0]!.bank;
}

async function projectionOf(bank: BankProcess): Promise<ProjectionStatus> {
  const reply = await call(bank.url, 'GET', '/projections', undefined, ADMIN);
  expectStatus(reply, 200);
  const status = (reply.body as ProjectionStatus[]).find((p) => p.name === PROJECTION);
  if (status === undefined) throw new Error(`${bank.name} has no ${PROJECTION} projection`);
  return status;
}

/** Every account through `GET /accounts/:id` (folded from its stream, not the read model). */
async function foldedBalances(bank: BankProcess): Promise<AccountView[]> {
  return Promise.all(
    ids.map(async (id) => {
      const reply = await call(bank.url, 'GET', `/accounts/${id}`);
      expectStatus(reply, 200);
      const { owner, balance } = reply.body as AccountView;
      return { id, owner, balance };
    }),
  );
}

async function strongRead(
  bank: BankProcess,
  position: string,
): Promise<{ accounts: AccountView[]; total: number }> {
  const query = new URLSearchParams({
    consistency: 'strong',
    position,
    timeoutMs: String(STRONG_READ_TIMEOUT_MS),
  });
  const reply = await call(bank.url, 'GET', `/read-model/accounts?${query}`);
  expectStatus(reply, 200);
  const { accounts, total } = reply.body as { accounts: AccountView[]; total: number };
  return { accounts, total };
}

/** One HTTP request; throws on a network error (connection refused or reset, timeout). */
async function call(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STRONG_READ_TIMEOUT_MS + 15_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}

function expectStatus(reply: Reply, status: number): void {
  if (reply.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${reply.status}: ${JSON.stringify(reply.body)}`);
  }
}

function eventSummary(row: {
  type: string;
  stream_id: string;
  stream_version: string;
  data: unknown;
}): { type: string; stream: string; version: number; data: unknown } {
  return {
    type: row.type,
    stream: row.stream_id,
    version: Number(row.stream_version),
    data: row.data,
  };
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause === undefined ? error.message : `${error.message}: ${cause.code ?? cause.message}`;
}

/** Retries `probe` until it resolves, then returns its value; after `timeoutMs`, its last error. */
async function eventually<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T>,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() >= deadline) {
        throw new Error(
          `not true within ${timeoutMs} ms: ${what} (last: ${describeError(error)})`,
          {
            cause: error,
          },
        );
      }
    }
    await new Promise((wake) => setTimeout(wake, intervalMs));
  }
}

/** "code ×count" of the last answer of each refused transfer, for the summary line. */
function refusalCodes(refused: readonly Transfer[]): string {
  const counts = new Map<string, number>();
  for (const transfer of refused) {
    const code = transfer.sends.at(-1)?.code ?? 'no code';
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  return [...counts].map(([code, count]) => `${code} ×${count}`).join(', ') || 'none';
}
