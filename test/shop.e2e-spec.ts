import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { InMemoryEventStore, type RecordedEvent } from '@eventcore/core';
import { createShopApp } from '../apps/shop/src/shop-app';

/** Polls until `read` returns a value that passes `done` (eventual: the process manager is async). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`not reached: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The sample shop over real HTTP, on the in-memory store. */
describe('shop sample app (HTTP)', () => {
  let app: INestApplication;
  let store: InMemoryEventStore;
  let http: ReturnType<typeof request>;

  beforeEach(async () => {
    store = new InMemoryEventStore();
    app = await createShopApp({ eventStore: store, logger: false });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
    await http.post('/products').send({ sku: 'apple', name: 'Apple', stock: 10 }).expect(201);
    await http.post('/products').send({ sku: 'pear', name: 'Pear', stock: 3 }).expect(201);
  });

  afterEach(async () => {
    await app.close();
  });

  const stock = async (sku: string) =>
    (await http.get(`/products/${sku}`).expect(200)).body.available as number;
  const log = async () => (await store.readAll({ limit: 10_000 })).events;

  it('reserves stock on every product an order names, in one write', async () => {
    const placed = await http
      .post('/orders')
      .send({
        orderId: 'o1',
        lines: [
          { sku: 'apple', quantity: 4 },
          { sku: 'pear', quantity: 2 },
        ],
      })
      .expect(201);
    expect(placed.body.streamVersions).toEqual({
      'order-o1': 1,
      'product-apple': 2,
      'product-pear': 2,
    });
    expect(await stock('apple')).toBe(6);
    expect(await stock('pear')).toBe(1);
    expect((await http.get('/orders/o1').expect(200)).body.status).toBe('pending');
  });

  it('reserves nothing when one product lacks stock, and answers 409 or 404 with a code', async () => {
    const before = (await log()).length;
    const short = await http
      .post('/orders')
      .send({
        orderId: 'o1',
        lines: [
          { sku: 'apple', quantity: 1 },
          { sku: 'pear', quantity: 4 },
        ],
      })
      .expect(409);
    expect(short.body.code).toBe('product.out_of_stock');
    const unknown = await http
      .post('/orders')
      .send({ orderId: 'o2', lines: [{ sku: 'plum', quantity: 1 }] })
      .expect(404);
    expect(unknown.body.code).toBe('product.not_found');
    const invalid = await http
      .post('/orders')
      .send({ orderId: 'o3', lines: [{ sku: 'apple', quantity: 0 }] })
      .expect(400);
    expect(invalid.body.failures.map((f: { property: string }) => f.property)).toEqual([
      'lines.0.quantity',
    ]);
    expect((await log()).length).toBe(before);
    expect(await stock('apple')).toBe(10);
  });

  it('ships a paid order through the process manager', async () => {
    await http
      .post('/orders')
      .send({ orderId: 'o1', lines: [{ sku: 'apple', quantity: 1 }] })
      .expect(201);
    await http.post('/orders/o1/payment').send({ succeeded: true }).expect(201);
    await eventually(
      async () => (await http.get('/orders/o1')).body.status,
      (s) => s === 'shipped',
    );
  });

  it('compensates a failed payment: cancels the order and releases its stock, with the request correlation id throughout', async () => {
    await http
      .post('/orders')
      .set('X-Correlation-Id', 'checkout-42')
      .send({
        orderId: 'o1',
        lines: [
          { sku: 'apple', quantity: 4 },
          { sku: 'pear', quantity: 3 },
        ],
      })
      .expect(201);
    await http
      .post('/orders/o1/payment')
      .set('X-Correlation-Id', 'checkout-42')
      .send({ succeeded: false })
      .expect(201);
    await eventually(
      async () => (await http.get('/orders/o1')).body.status,
      (s) => s === 'cancelled',
    );
    expect(await stock('apple')).toBe(10);
    expect(await stock('pear')).toBe(3);

    const events = await log();
    const byType = (type: string) => events.filter((e) => e.type === type);
    const payment = byType('PaymentRecorded')[0]!;
    const caused: RecordedEvent[] = [...byType('OrderCancelled'), ...byType('StockReleased')];
    expect(caused).toHaveLength(3);
    expect(payment.metadata.correlationId).toBe('checkout-42');
    for (const event of caused) {
      expect(event.metadata.correlationId).toBe('checkout-42');
      expect(event.metadata.causationId).toBe(payment.id);
    }
    // Redelivery cannot double the compensation: exactly one cancellation is stored.
    expect(byType('OrderCancelled')).toHaveLength(1);
  });

  it('reports health with the process manager', async () => {
    const health = await http.get('/health').expect(200);
    expect(health.body.info.projections.status).toBe('up');
    expect(health.body.info.projections.projections).toHaveProperty('fulfilment');
  });
});
