/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import {
  ExpectedVersion,
  InMemoryProjectionLock,
  type ProjectionContext,
  type RecordedEvent,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { Projection, ProjectionHost, ProjectionRegistry } from '@eventcore/nestjs';
import {
  createPGliteEventStore,
  createPostgresCheckpointStore,
  type PostgresEventStore,
  type PostgresProjectionTx,
  PostgresStoreInspection,
} from '@eventcore/postgres';
import { loadPGlite } from '@eventcore/postgres/testing';
import { SqlBalanceReadModel } from '../apps/bank/src/read-model/sql.balance-read-model';
import { startBankWithConsole } from './support/browser';

/** Writes a row per event in the checkpoint transaction, then fails on some until healed. */
@Projection({
  name: 'ledger',
  streams: ['ledger-'],
  errorPolicy: { onFailure: 'dead-letter', retry: { maxAttempts: 1 } },
})
class LedgerProjection extends ProjectionHost<PostgresProjectionTx> {
  static healed = false;

  override async setup({ tx }: ProjectionContext<PostgresProjectionTx>): Promise<void> {
    await tx.query('CREATE TABLE IF NOT EXISTS ledger (name text PRIMARY KEY)');
  }

  async handle(event: RecordedEvent, { tx }: ProjectionContext<PostgresProjectionTx>) {
    const data = event.data as { name: string; fail?: boolean };
    await tx.query('INSERT INTO ledger (name) VALUES ($1)', [data.name]);
    if (data.fail && !LedgerProjection.healed) throw new Error(`cannot handle ${data.name}`);
  }
}

/**
 * The console over the bank on an embedded PostgreSQL (PGlite) with `PostgresStoreInspection`:
 * the SQL behind stream search, traces and the hold-back, and a dead-letter retry that commits
 * with the read model in the checkpoint store's transaction.
 */
describe('operations console on PGlite', () => {
  let db: PGlite;
  let store: PostgresEventStore;
  let app: INestApplication;
  let http: ReturnType<typeof request.agent>;

  beforeAll(async () => {
    db = await loadPGlite().create();
    store = await createPGliteEventStore({ db });
    let url: string;
    ({ app, url } = await startBankWithConsole({
      console: { localOnly: true, inspection: new PostgresStoreInspection(store) },
      bank: {
        eventStore: store,
        checkpointStore: await createPostgresCheckpointStore(store),
        projectionLock: new InMemoryProjectionLock(),
        balances: new SqlBalanceReadModel(store.sqlExecutor),
      },
      providers: [LedgerProjection],
    }));
    http = request.agent(url);
    await http.post('/accounts').send({ accountId: 'a', owner: 'Ann' }).expect(201);
    await http.post('/accounts').send({ accountId: 'b', owner: 'Bob' }).expect(201);
    await http.post('/accounts/a/deposits').send({ amount: 50 }).expect(201);
    await http
      .post('/transfers')
      .set('X-Correlation-Id', 'pglite-transfer')
      .send({ from: 'a', to: 'b', amount: 20 })
      .expect(201);
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('shows the store details and what holds subscribers back, from PostgreSQL', async () => {
    const overview = await http.get('/eventcore/').expect(200);
    expect(overview.text).toContain('Schema version');
    expect(overview.text).toContain('No write transaction is open');
    expect(overview.text).toMatch(/data-key="log:head">\s*5\s*</);
  });

  it('finds streams by prefix and traces a correlation id through SQL', async () => {
    const search = await http.get('/eventcore/streams?prefix=account-').expect(200);
    expect(search.text).toContain('href="streams/account-a"');
    expect(search.text).toContain('href="streams/account-b"');
    const trace = await http.get('/eventcore/trace?correlationId=pglite-transfer').expect(200);
    expect(trace.text).toContain('MoneyTransferredOut');
    expect(trace.text).toContain('MoneyTransferredIn');
    expect(trace.text).toMatch(/2 events in\s+2 streams/);
  });

  it('retries a dead letter in the checkpoint transaction: the read model and the removal commit together', async () => {
    const { events } = await store.append([
      {
        streamId: streamId('ledger-1'),
        expected: ExpectedVersion.any,
        events: [
          testEvent('Entered', { name: 'first' }),
          testEvent('Entered', { name: 'second', fail: true }),
        ],
      },
    ]);
    const registry = app.get(ProjectionRegistry);
    await registry.waitFor((await store.readAll({ limit: 100 })).next, { projections: ['ledger'] });
    const failed = events[1]!;
    const rows = async () =>
      (
        await store.sqlExecutor.query<{ name: string }>('SELECT name FROM ledger ORDER BY name')
      ).map((row) => row.name);
    expect(await rows()).toEqual(['first']);

    const page = await http.get('/eventcore/projections/ledger').expect(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const retry = () =>
      http
        .post(`/eventcore/projections/ledger/dead-letters/${failed.id}/retry`)
        .type('form')
        .send({ _csrf: csrf });

    // The handler wrote its row, then failed: the transaction rolled back, the letter stays.
    await retry().expect(409);
    expect(await rows()).toEqual(['first']);
    expect(await registry.deadLetters('ledger')).toHaveLength(1);

    LedgerProjection.healed = true;
    await retry().expect(303);
    expect(await rows()).toEqual(['first', 'second']);
    expect(await registry.deadLetters('ledger')).toEqual([]);
  });
});
