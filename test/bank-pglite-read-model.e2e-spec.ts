/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { InMemoryProjectionLock } from '@eventcore/core';
import { createPGliteEventStore, createPostgresCheckpointStore } from '@eventcore/postgres';
import { loadPGlite } from '@eventcore/postgres/testing';
import { createBankApp } from '../apps/bank/src/bank-app';
import { SqlBalanceReadModel } from '../apps/bank/src/read-model/sql.balance-read-model';

const ADMIN_TOKEN = 'bank-pglite-admin-token';
const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * The bank on a new PGlite database, wired as `bankStoreFromEnv` does: its read-model tables come
 * from the balances projection's setup step, and reads before that answer an empty bank.
 */
describe('bank read model on embedded PGlite', () => {
  let db: PGlite;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    db = await loadPGlite().create();
    const eventStore = await createPGliteEventStore({ db });
    app = await createBankApp({
      eventStore,
      checkpointStore: await createPostgresCheckpointStore(eventStore),
      projectionLock: new InMemoryProjectionLock(),
      balances: new SqlBalanceReadModel(eventStore.sqlExecutor),
      logger: false,
      adminToken: ADMIN_TOKEN,
    });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('answers an empty bank on a new database', async () => {
    const read = await http.get('/read-model/accounts').expect(200);
    expect(read.body).toMatchObject({ accounts: [], total: 0 });
  });

  it('projects into the tables its setup created, and again after a rebuild', async () => {
    await http.post('/accounts').send({ accountId: 'a', owner: 'Ann' }).expect(201);
    const deposit = await http.post('/accounts/a/deposits').send({ amount: 40 }).expect(201);
    const position = deposit.body.position as string;
    const strong = () =>
      http.get('/read-model/accounts').query({ consistency: 'strong', position }).expect(200);
    const expected = { accounts: [{ id: 'a', owner: 'Ann', balance: 40 }], total: 40 };
    expect((await strong()).body).toMatchObject(expected);

    await http.post('/projections/account-balances/rebuild').set(admin).expect(200);
    expect((await strong()).body).toMatchObject(expected);
  });
});
