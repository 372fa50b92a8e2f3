import { ErrorCodes } from '@eventcore/core';
import { given } from '@eventcore/core/testing';
import { orderStream, productStream } from '../catalog/shop.events';
import {
  CancelOrder,
  OrderLineInput,
  PlaceOrder,
  RecordPayment,
  ShipOrder,
} from './order.commands';

const added = (sku: string, stock: number) => ({
  type: 'ProductAdded',
  data: { sku, name: sku, stock },
});
const line = OrderLineInput.of;

describe('shop orders (given/when/then)', () => {
  const catalog = {
    [productStream('apple')]: [added('apple', 5)],
    [productStream('pear')]: [added('pear', 2)],
  };

  it('reserves stock on every product the order names, discovered at run time, in one write', async () => {
    const result = await given(catalog)
      .when(new PlaceOrder('o1', [line('apple', 2), line('pear', 1), line('apple', 1)]))
      .then({
        [productStream('apple')]: [{ type: 'StockReserved', data: { orderId: 'o1', quantity: 3 } }],
        [productStream('pear')]: [{ type: 'StockReserved', data: { orderId: 'o1', quantity: 1 } }],
        [orderStream('o1')]: [
          {
            type: 'OrderPlaced',
            data: {
              orderId: 'o1',
              lines: [
                { sku: 'apple', quantity: 3 },
                { sku: 'pear', quantity: 1 },
              ],
            },
          },
        ],
      });
    // Every stream of the boundary, discovered ones included, has its new version in the result.
    expect(result.streamVersions).toEqual({ 'order-o1': 1, 'product-apple': 2, 'product-pear': 2 });
  });

  it('reserves nothing when one product lacks stock (all or nothing)', async () => {
    await given(catalog)
      .when(new PlaceOrder('o1', [line('apple', 1), line('pear', 3)]))
      .thenFails(ErrorCodes.businessRuleViolation, 'only 2 of pear left');
    await given(catalog)
      .when(new PlaceOrder('o1', [line('apple', 1), line('plum', 1)]))
      .thenFails(ErrorCodes.businessRuleViolation, 'product plum does not exist');
  });

  it('validates nested lines before any read', async () => {
    await given(catalog)
      .when(new PlaceOrder('o1', [line('apple', 0), line('bad sku!', 1)]))
      .thenFails(ErrorCodes.commandValidation, /lines\.0\.quantity.*lines\.1\.sku/);
    await given(catalog)
      .when(new PlaceOrder('o1', []))
      .thenFails(ErrorCodes.commandValidation, /lines/);
  });

  const placed = {
    ...catalog,
    [productStream('apple')]: [
      added('apple', 5),
      { type: 'StockReserved', data: { orderId: 'o1', quantity: 3 } },
    ],
    [orderStream('o1')]: [
      { type: 'OrderPlaced', data: { orderId: 'o1', lines: [{ sku: 'apple', quantity: 3 }] } },
    ],
  };

  it('cancels a pending order and releases its stock on the products read from the order', async () => {
    await given(placed)
      .when(new CancelOrder('o1', 'payment failed'))
      .then({
        [productStream('apple')]: [{ type: 'StockReleased', data: { orderId: 'o1', quantity: 3 } }],
        [orderStream('o1')]: [{ type: 'OrderCancelled', data: { reason: 'payment failed' } }],
      });
  });

  it('records a payment, ships a paid order, and refuses to cancel it then', async () => {
    await given(placed)
      .when(new RecordPayment('o1', true))
      .then({ [orderStream('o1')]: [{ type: 'PaymentRecorded', data: { succeeded: true } }] });
    const paid = {
      ...placed,
      [orderStream('o1')]: [
        ...placed[orderStream('o1')]!,
        { type: 'PaymentRecorded', data: { succeeded: true } },
      ],
    };
    await given(paid)
      .when(new ShipOrder('o1'))
      .then({ [orderStream('o1')]: [{ type: 'OrderShipped', data: {} }] });
    await given(paid)
      .when(new CancelOrder('o1', 'changed my mind'))
      .thenFails(ErrorCodes.businessRuleViolation, 'not pending');
  });
});
