import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { InMemoryEventStore } from '@eventcore/core';
import { createBankApp } from '../apps/bank/src/bank-app';

/** The sample bank over real HTTP, on the in-memory store. */
describe('bank sample app (HTTP)', () => {
  let app: INestApplication;
  let store: InMemoryEventStore;
  let http: ReturnType<typeof request>;

  beforeEach(async () => {
    store = new InMemoryEventStore();
    app = await createBankApp({ eventStore: store, logger: false });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
  });

  afterEach(async () => {
    await app.close();
  });

  const eventCount = async () => (await store.readAll({ limit: 10_000 })).events.length;
  const open = (accountId: string, owner = 'Ann') =>
    http.post('/accounts').send({ accountId, owner });
  const deposit = (id: string, amount: number) =>
    http.post(`/accounts/${id}/deposits`).send({ amount });

  it('opens an account, deposits, withdraws and reads the balance', async () => {
    await open('a1').expect(201);
    const deposited = await deposit('a1', 500).expect(201);
    expect(deposited.body).toMatchObject({
      streamVersions: { 'account-a1': 2 },
      attempts: 1,
      replayed: false,
    });
    expect(typeof deposited.body.position).toBe('string');
    await http.post('/accounts/a1/withdrawals').send({ amount: 200 }).expect(201);
    const account = await http.get('/accounts/a1').expect(200);
    expect(account.body).toEqual({ id: 'a1', owner: 'Ann', balance: 300, version: 3 });
  });

  it('transfers between two accounts in one atomic write', async () => {
    await open('a');
    await open('b');
    await deposit('a', 100);
    const transfer = await http
      .post('/transfers')
      .send({ from: 'a', to: 'b', amount: 60 })
      .expect(201);
    expect(transfer.body.streamVersions).toEqual({ 'account-a': 3, 'account-b': 2 });
    expect((await http.get('/accounts/a')).body.balance).toBe(40);
    expect((await http.get('/accounts/b')).body.balance).toBe(60);
    const events = (await store.readAll({ limit: 100 })).events.slice(-2);
    expect(events.map((e) => e.type)).toEqual(['MoneyTransferredOut', 'MoneyTransferredIn']);
    expect(events[1]!.globalPosition).toBe(events[0]!.globalPosition + 1);
  });

  it('answers 400 listing every failing field, and writes nothing', async () => {
    await open('a');
    const before = await eventCount();
    const response = await http
      .post('/transfers')
      .send({ from: 'a', to: 'b c', amount: -5, extra: true })
      .expect(400);
    expect(response.body.code).toBe('request.invalid');
    const properties = response.body.failures.map((f: { property: string }) => f.property).sort();
    expect(properties).toEqual(['amount', 'extra', 'to']);
    await deposit('a', 1.5).expect(400);
    await http.post('/accounts/bad%20id/deposits').send({ amount: 1 }).expect(400);
    expect(await eventCount()).toBe(before);
  });

  it('answers 404 for an unknown account and 409 for insufficient funds, writing nothing', async () => {
    await open('a');
    await deposit('a', 10);
    const before = await eventCount();
    const missing = await deposit('nobody', 5).expect(404);
    expect(missing.body).toMatchObject({ code: 'account.not_found' });
    const poor = await http
      .post('/transfers')
      .send({ from: 'a', to: 'nobody', amount: 5 })
      .expect(404);
    expect(poor.body.code).toBe('account.not_found');
    await open('b');
    const afterOpen = await eventCount();
    const tooMuch = await http
      .post('/transfers')
      .send({ from: 'a', to: 'b', amount: 11 })
      .expect(409);
    expect(tooMuch.body).toMatchObject({ code: 'account.insufficient_funds' });
    const twice = await open('a').expect(409);
    expect(twice.body.code).toBe('account.already_exists');
    expect(afterOpen).toBe(before + 1);
    expect(await eventCount()).toBe(afterOpen);
    await http.get('/accounts/nobody').expect(404);
  });

  it('writes once for a repeated Idempotency-Key and returns the first result', async () => {
    await open('a');
    const first = await http
      .post('/accounts/a/deposits')
      .set('Idempotency-Key', 'req-1')
      .send({ amount: 5 })
      .expect(201);
    const second = await http
      .post('/accounts/a/deposits')
      .set('Idempotency-Key', 'req-1')
      .send({ amount: 5 })
      .expect(201);
    expect(second.body).toMatchObject({ commandId: first.body.commandId, replayed: true });
    expect((await http.get('/accounts/a')).body.balance).toBe(5);
    const reused = await http
      .post('/accounts/a/deposits')
      .set('Idempotency-Key', 'req-1')
      .send({ amount: 6 });
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('eventcore.idempotency_key_reuse');
  });

  it('carries the X-Correlation-Id header into the stored events', async () => {
    await open('a').set('X-Correlation-Id', 'corr-42').expect(201);
    const [event] = (await store.readAll({ limit: 10 })).events;
    expect(event!.metadata.correlationId).toBe('corr-42');
  });

  it('reports health up through Terminus', async () => {
    const health = await http.get('/health').expect(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.info.eventStore.status).toBe('up');
    expect(typeof health.body.info.eventStore.latencyMs).toBe('number');
  });

  it('reports health down (503) when the store does not answer', async () => {
    await store.close();
    const health = await http.get('/health').expect(503);
    expect(health.body.error.eventStore).toMatchObject({
      status: 'down',
      code: 'eventcore.store_closed',
    });
  });

  it('keeps money conserved under 200 concurrent transfers among 10 accounts', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `acc${i}`);
    for (const id of ids) {
      await open(id);
      await deposit(id, 1_000);
    }
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const transfers = Array.from({ length: 200 }, () => {
      const from = ids[random(10)]!;
      let to = ids[random(10)]!;
      if (to === from) to = ids[(ids.indexOf(from) + 1) % 10]!;
      return { from, to, amount: 1 + random(400) };
    });
    const responses = await Promise.all(transfers.map((t) => http.post('/transfers').send(t)));

    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409 || s === 503)).toBe(true);
    for (const r of responses.filter((x) => x.status === 409)) {
      expect(r.body.code).toBe('account.insufficient_funds');
    }
    // Contention is not a refusal: retry later, as the header says.
    for (const r of responses.filter((x) => x.status === 503)) {
      expect(r.body.code).toBe('eventcore.retries_exhausted');
      expect(r.headers['retry-after']).toBe('1');
    }
    const balances = await Promise.all(
      ids.map(async (id) => (await http.get(`/accounts/${id}`)).body.balance as number),
    );
    expect(balances.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(balances.every((b) => b >= 0)).toBe(true);
    // Every acknowledged transfer is in the log exactly once, and nothing else was written.
    const transferEvents = (
      await store.readAll({ limit: 10_000, filter: { eventTypes: ['MoneyTransferredOut'] } })
    ).events;
    expect(transferEvents).toHaveLength(statuses.filter((s) => s === 201).length);
  });
});
