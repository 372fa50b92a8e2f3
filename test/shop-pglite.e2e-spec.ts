/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { INestApplication } from '@nestjs/common';
import type { PGlite } from '@electric-sql/pglite';
import request from 'supertest';
import { InMemoryProjectionLock } from '@eventcore/core';
import { createPGliteEventStore, createPostgresCheckpointStore } from '@eventcore/postgres';
import { createShopApp } from '../apps/shop/src/shop-app';
import { loadPGlite } from '@eventcore/postgres/testing';

/**
 * The shop on embedded PGlite, as `npm run start:shop` runs it: one connection for everything. The
 * fulfilment process manager issues commands while its checkpoint is being moved; they must not
 * wait for that connection (they did, when process managers ran inside the checkpoint transaction).
 */
describe('shop on PGlite (HTTP)', () => {
  let db: PGlite;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    db = await loadPGlite().create();
    const eventStore = await createPGliteEventStore({ db });
    app = await createShopApp({
      eventStore,
      checkpointStore: await createPostgresCheckpointStore(eventStore),
      projectionLock: new InMemoryProjectionLock(),
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
  });

  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('compensates a failed payment through the process manager and releases the stock', async () => {
    await http.post('/products').send({ sku: 'apple', name: 'Apple', stock: 5 }).expect(201);
    await http
      .post('/orders')
      .send({ orderId: 'o1', lines: [{ sku: 'apple', quantity: 2 }] })
      .expect(201);
    expect((await http.get('/products/apple').expect(200)).body.available).toBe(3);
    await http.post('/orders/o1/payment').send({ succeeded: false }).expect(201);
    const deadline = Date.now() + 10_000;
    let status = '';
    while (status !== 'cancelled') {
      if (Date.now() > deadline) throw new Error(`order still ${status}`);
      status = (await http.get('/orders/o1').expect(200)).body.status;
      if (status !== 'cancelled') await new Promise((r) => setTimeout(r, 20));
    }
    expect((await http.get('/products/apple').expect(200)).body.available).toBe(5);
  });
});
