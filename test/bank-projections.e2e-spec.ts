import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { InMemoryEventStore } from '@eventcore/core';
import { createBankApp } from '../apps/bank/src/bank-app';
import { AccountBalancesProjection } from '../apps/bank/src/read-model/account-balances.projection';

/** The bank's read model, projection control and health over real HTTP. */
describe('bank read model and projections (HTTP)', () => {
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  /** The projections' routes are for administrators. */
  const ADMIN_TOKEN = 'bank-projections-admin-token';
  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeEach(async () => {
    app = await createBankApp({
      eventStore: new InMemoryEventStore(),
      logger: false,
      adminToken: ADMIN_TOKEN,
    });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await app.close();
  });

  const strongRead = (position: string, timeoutMs?: number) =>
    http.get('/read-model/accounts').query({
      consistency: 'strong',
      position,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });

  async function seed(): Promise<string> {
    await http.post('/accounts').send({ accountId: 'a', owner: 'Ann' }).expect(201);
    await http.post('/accounts').send({ accountId: 'b', owner: 'Bob' }).expect(201);
    await http.post('/accounts/a/deposits').send({ amount: 100 }).expect(201);
    const transfer = await http.post('/transfers').send({ from: 'a', to: 'b', amount: 30 });
    return transfer.body.position as string;
  }

  const expectedAccounts = {
    accounts: [
      { id: 'a', owner: 'Ann', balance: 70 },
      { id: 'b', owner: 'Bob', balance: 30 },
    ],
    total: 100,
  };

  it('a strong read after a write shows the write', async () => {
    const position = await seed();
    const read = await strongRead(position).expect(200);
    expect(read.body).toMatchObject(expectedAccounts);
    expect(typeof read.body.position).toBe('string');
  });

  it('answers 400 for a strong read without a valid position', async () => {
    const missing = await http.get('/read-model/accounts?consistency=strong').expect(400);
    expect(missing.body.code).toBe('request.invalid');
    const foreign = await strongRead('99999').expect(400);
    expect(foreign.body.code).toBe('eventcore.invalid_position');
    await http.get('/read-model/accounts?consistency=sometimes').expect(400);
  });

  it('lists projections; pause makes strong reads time out with 503, resume and rebuild recover', async () => {
    const list = await http.get('/projections').set(admin).expect(200);
    expect(list.body).toEqual([expect.objectContaining({ name: 'account-balances' })]);

    await strongRead(await seed()).expect(200);
    const paused = await http.post('/projections/account-balances/pause').set(admin).expect(200);
    expect(paused.body).toMatchObject({ name: 'account-balances', state: 'paused' });
    const write = await http.post('/accounts/a/deposits').send({ amount: 5 }).expect(201);
    const timedOut = await strongRead(write.body.position, 50).expect(503);
    expect(timedOut.body.code).toBe('eventcore.projection_wait_timeout');

    const resumed = await http.post('/projections/account-balances/resume').set(admin).expect(200);
    expect(resumed.body).toMatchObject({ state: 'live', lagEvents: 0 }); // the state it reached
    const after = { ...expectedAccounts, total: 105 };
    after.accounts = [{ id: 'a', owner: 'Ann', balance: 75 }, expectedAccounts.accounts[1]!];
    expect((await strongRead(write.body.position).expect(200)).body).toMatchObject(after);

    const rebuilt = await http.post('/projections/account-balances/rebuild').set(admin).expect(200);
    expect(rebuilt.body).toMatchObject({ state: 'rebuilding', handledEvents: 0 });
    expect((await strongRead(write.body.position).expect(200)).body).toMatchObject(after);
  });

  it('answers 404 with a code for an unknown projection', async () => {
    for (const action of ['pause', 'resume', 'rebuild']) {
      const response = await http.post(`/projections/nope/${action}`).set(admin).expect(404);
      expect(response.body.code).toBe('eventcore.projection_not_found');
    }
  });

  it('/health turns down while the projection is faulted and up after resume', async () => {
    const healthy = await http.get('/health').expect(200);
    expect(healthy.body.info.projections.status).toBe('up');

    const projection = app.get(AccountBalancesProjection);
    // The worker hands batches to handleBatch (and single events while isolating a failure).
    const handle = jest.spyOn(projection, 'handleBatch').mockImplementation(() => {
      throw new Error('read model unavailable');
    });
    const position = await seed();
    let down: request.Response | undefined;
    for (let i = 0; i < 400 && down?.status !== 503; i++) {
      down = await http.get('/health');
      if (down.status !== 503) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(down?.status).toBe(503);
    expect(down?.body.error.projections).toMatchObject({
      status: 'down',
      projections: {
        'account-balances': { state: 'faulted', lastError: 'read model unavailable' },
      },
    });

    handle.mockRestore();
    await http.post('/projections/account-balances/resume').set(admin).expect(200);
    expect((await strongRead(position).expect(200)).body).toMatchObject(expectedAccounts);
    await http.get('/health').expect(200);
  });
});
