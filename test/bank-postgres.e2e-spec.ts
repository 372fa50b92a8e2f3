import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { RecordedEvent } from '@eventcore/core';
import type { PostgresEventStore } from '@eventcore/postgres';
import {
  type AccountState,
  closedAccount,
  evolveAccount,
} from '../apps/bank/src/accounts/bank.events';
import type { BankEvent } from '../apps/bank/src/accounts/bank.events';
import { createBankApp } from '../apps/bank/src/bank-app';
import { bankStoreFromEnv } from '../apps/bank/src/bank-store';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';

const ACCOUNTS = 8;
const CLIENTS = 16;
const TRANSFERS_PER_CLIENT = 15;
const OPENING_DEPOSIT = 1_000;

/** The bank over HTTP on a real PostgreSQL database: the read model is tables, exactly-once. */
/** The projections' routes are for administrators. */
const ADMIN_TOKEN = 'bank-postgres-admin-token';

describeWithServer('bank on PostgreSQL (HTTP)', () => {
  let database: TestDatabase;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let eventStore: PostgresEventStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    const store = await bankStoreFromEnv({ DATABASE_URL: database.url });
    eventStore = store.eventStore as PostgresEventStore;
    app = await createBankApp({ ...store, logger: false, adminToken: ADMIN_TOKEN });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('keeps the read model table equal to the streams under concurrent transfers, and the total constant', async () => {
    const ids = Array.from({ length: ACCOUNTS }, (_, i) => `acc${i}`);
    for (const id of ids) {
      await http
        .post('/accounts')
        .send({ accountId: id, owner: `Owner ${id}` })
        .expect(201);
      await http.post(`/accounts/${id}/deposits`).send({ amount: OPENING_DEPOSIT }).expect(201);
    }
    const statuses = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const codes: number[] = [];
        for (let i = 0; i < TRANSFERS_PER_CLIENT; i++) {
          const from = ids[(client + i) % ACCOUNTS]!;
          const to = ids[(client + i * 3 + 1) % ACCOUNTS]!;
          if (from === to) continue;
          const response = await http
            .post('/transfers')
            .send({ from, to, amount: 1 + ((client * 7 + i) % 50) });
          codes.push(response.status);
          // Conflict retries exhausted: nothing written, worth retrying later (503, Retry-After).
          if (response.status === 503) {
            expect(response.body.code).toBe('eventcore.retries_exhausted');
            expect(response.headers['retry-after']).toBe('1');
          }
        }
        return codes;
      }),
    );
    // Every transfer commits, is refused (funds: 409) or meets too much contention (retries
    // exhausted: 503); none fails otherwise.
    expect(statuses.flat().every((s) => s === 201 || s === 409 || s === 503)).toBe(true);
    expect(statuses.flat().filter((s) => s === 201).length).toBeGreaterThan(0);

    // Written after every transfer returned, so its position is after all of them.
    const last = await http.post(`/accounts/${ids[0]}/deposits`).send({ amount: 1 }).expect(201);
    const read = await http
      .get('/read-model/accounts')
      .query({ consistency: 'strong', position: last.body.position, timeoutMs: 20_000 })
      .expect(200);

    const folded = await foldAccounts(eventStore, ids);
    expect(read.body.accounts).toEqual(
      ids.map((id) => ({ id, owner: folded[id]!.owner, balance: folded[id]!.balance })),
    );
    expect(read.body.total).toBe(ACCOUNTS * OPENING_DEPOSIT + 1);

    // A rebuild from zero ends at the same table.
    await http
      .post('/projections/account-balances/rebuild')
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(200);
    const rebuilt = await http
      .get('/read-model/accounts')
      .query({ consistency: 'strong', position: last.body.position, timeoutMs: 20_000 })
      .expect(200);
    expect(rebuilt.body).toMatchObject({ accounts: read.body.accounts, total: read.body.total });
  });
});

/** Each account's state folded from its own stream. */
async function foldAccounts(
  store: PostgresEventStore,
  ids: readonly string[],
): Promise<Record<string, AccountState>> {
  const { accountStream } = await import('../apps/bank/src/accounts/bank.events');
  const result: Record<string, AccountState> = {};
  for (const id of ids) {
    const { events } = await store.readStreams([accountStream(id)]);
    result[id] = events.reduce(
      (state, event) => evolveAccount(state, event as RecordedEvent<BankEvent>),
      closedAccount,
    );
  }
  return result;
}
