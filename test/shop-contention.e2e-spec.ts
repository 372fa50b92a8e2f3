import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { seededRandom } from '@eventcore/core/testing';
import { createPostgresEventStore, type PostgresEventStore } from '@eventcore/postgres';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import { createShopApp } from '../apps/shop/src/shop-app';

const PRODUCTS = 8;
const ORDERS = 400;
const IN_FLIGHT = 32;

interface Line {
  sku: string;
  quantity: number;
}

/** What the workload saw: answers by code, and the quantity placed per product. */
interface WorkloadReport {
  readonly placed: number;
  readonly byCode: Record<string, number>;
  readonly placedQuantity: Map<string, number>;
  /** Attempts each placed order took. */
  readonly attempts: number[];
  readonly initialStock: Map<string, number>;
}

/**
 * The contended shop of issue 11: 8 products with 5–20 units, 400 orders of 1–4 products,
 * 32 in flight, spread over the given instances.
 */
async function runWorkload(urls: readonly string[], seed: number): Promise<WorkloadReport> {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const initialStock = new Map<string, number>();
  for (let p = 0; p < PRODUCTS; p++) {
    const sku = `sku-${seed}-${p}`;
    initialStock.set(sku, 5 + pick(16));
    await request(urls[0]!)
      .post('/products')
      .send({ sku, name: `Product ${p}`, stock: initialStock.get(sku) })
      .expect(201);
  }
  const orders = Array.from({ length: ORDERS }, (_, i) => {
    const skus = new Set<string>();
    const count = 1 + pick(4);
    while (skus.size < count) skus.add(`sku-${seed}-${pick(PRODUCTS)}`);
    return {
      orderId: `order-${seed}-${i}`,
      lines: [...skus].map((sku): Line => ({ sku, quantity: 1 + pick(2) })),
    };
  });

  const byCode: Record<string, number> = {};
  const placedQuantity = new Map<string, number>();
  const attempts: number[] = [];
  let placed = 0;
  let next = 0;
  const worker = async () => {
    while (next < orders.length) {
      const i = next++;
      const order = orders[i]!;
      const reply = await request(urls[i % urls.length]!)
        .post('/orders')
        .send(order);
      if (reply.status === 201) {
        expect(reply.body).toMatchObject({ commandId: expect.any(String), replayed: false });
        placed++;
        attempts.push(reply.body.attempts as number);
        for (const line of order.lines)
          placedQuantity.set(line.sku, (placedQuantity.get(line.sku) ?? 0) + line.quantity);
      } else {
        const code = String(reply.body.code);
        if (code === 'eventcore.retries_exhausted') {
          // Retryable, and told apart from a business refusal by status and header.
          expect({ status: reply.status, retryAfter: reply.headers['retry-after'] }).toEqual({
            status: 503,
            retryAfter: expect.stringMatching(/^\d+$/),
          });
        }
        byCode[code] = (byCode[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return { placed, byCode, placedQuantity, initialStock, attempts };
}

/** No product oversold, and every unit reserved belongs to an order that was answered 201. */
async function expectStockConserved(url: string, report: WorkloadReport): Promise<void> {
  for (const [sku, initial] of report.initialStock) {
    const product = (await request(url).get(`/products/${sku}`).expect(200)).body as {
      available: number;
    };
    expect({ sku, available: product.available }).toEqual({
      sku,
      available: initial - (report.placedQuantity.get(sku) ?? 0),
    });
    expect(product.available).toBeGreaterThanOrEqual(0);
  }
}

/**
 * On PostgreSQL, where a command's read and append are apart long enough for others to slip in
 * (the in-memory store answers too fast for 32 requests to collide).
 */
describeWithServer('the contended shop on PostgreSQL', () => {
  let database: TestDatabase;
  const stores: PostgresEventStore[] = [];
  const apps: INestApplication[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    for (let i = 0; i < 2; i++) {
      const store = await createPostgresEventStore({ connectionString: database.url });
      stores.push(store);
      const app = await createShopApp({ eventStore: store, logger: false });
      await app.listen(0, '127.0.0.1');
      apps.push(app);
      urls.push(await app.getUrl());
    }
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const store of stores) await store.close();
    await database?.drop();
  });

  it('on one instance, orders never conflict with each other: each placed at its first attempt, none refused but for stock', async () => {
    const report = await runWorkload(urls.slice(0, 1), 11);
    expect(report.byCode).toEqual({ 'product.out_of_stock': ORDERS - report.placed });
    expect(report.placed).toBeGreaterThan(0);
    expect(report.attempts.filter((n) => n > 1)).toEqual([]);
    await expectStockConserved(urls[0]!, report);
  });

  it('on two instances, stock is conserved and every order is answered placed, out of stock, or retryable with Retry-After', async () => {
    const report = await runWorkload(urls, 12);
    const exhausted = report.byCode['eventcore.retries_exhausted'] ?? 0;
    console.log(
      `two instances: ${report.placed} placed (attempts ${JSON.stringify(report.attempts)}), ` +
        `answers by code ${JSON.stringify(report.byCode)}`,
    );
    expect(report.placed + (report.byCode['product.out_of_stock'] ?? 0) + exhausted).toBe(ORDERS);
    expect(report.placed).toBeGreaterThan(0);
    await expectStockConserved(urls[1]!, report);
  });
});
