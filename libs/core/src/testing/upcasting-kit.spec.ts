import 'reflect-metadata';
import { AssertionError } from 'node:assert/strict';
import { Command, Stream } from '../command/command.decorators';
import type { CommandContext, CommandLogic } from '../command/command-logic';
import { ErrorCodes } from '../errors';
import type { RecordedEvent } from '../events/event';
import { MessagePackSerializer } from '../events/event-serializer';
import { EventTypeRegistry } from '../events/event-type-registry';
import { type StreamId, streamId } from '../store/stream-id';
import { given } from './command-spec';
import { projectEvents } from './projection-spec';

/** The docs' chain: v1 { amount } in units → v2 { cents } → v3 { cents, currency }. */
const moneyTypes = () =>
  new EventTypeRegistry([
    {
      type: 'MoneyDeposited',
      version: 3,
      upcasters: {
        1: (data) => ({ cents: (data as { amount: number }).amount * 100 }),
        2: (data) => ({ ...(data as object), currency: 'EUR' }),
      },
    },
    { type: 'BalanceReported', version: 2, upcasters: { 1: (data) => data } },
  ]);

type Deposited = { type: 'MoneyDeposited'; data: { cents: number; currency: string } };
type Reported = { type: 'BalanceReported'; data: { cents: number; currencies: string[] } };

/** Reports the balance it folded from the account's deposits. */
@Command()
class ReportBalance implements CommandLogic<Reported['data'], Deposited | Reported> {
  @Stream() account: StreamId = streamId('account-1');
  initialState(): Reported['data'] {
    return { cents: 0, currencies: [] };
  }
  apply(state: Reported['data'], event: RecordedEvent<Deposited | Reported>): Reported['data'] {
    if (event.type !== 'MoneyDeposited') return state;
    const { cents, currency } = event.data;
    return { cents: state.cents + cents, currencies: [...state.currencies, currency] };
  }
  handle(state: Reported['data'], ctx: CommandContext<Reported, ReportBalance>): void {
    ctx.emit('account', { type: 'BalanceReported', data: state });
  }
}

describe('testing kit with event types (upcasting)', () => {
  it('given stores history in the current shape by default, so it folds as written', async () => {
    await given(
      { 'account-1': [{ type: 'MoneyDeposited', data: { cents: 300, currency: 'EUR' } }] },
      { events: moneyTypes() },
    )
      .when(new ReportBalance())
      .then({
        'account-1': [{ type: 'BalanceReported', data: { cents: 300, currencies: ['EUR'] } }],
      });
  });

  it('given runs history events stored at an older schema version through the upcasters', async () => {
    await given(
      {
        'account-1': [
          { type: 'MoneyDeposited', schemaVersion: 1, data: { amount: 2 } },
          { type: 'MoneyDeposited', schemaVersion: 2, data: { cents: 3 } },
          { type: 'MoneyDeposited', data: { cents: 300, currency: 'USD' } },
        ],
      },
      { events: moneyTypes() },
    )
      .when(new ReportBalance())
      .then({
        'account-1': [
          {
            type: 'BalanceReported',
            data: { cents: 503, currencies: ['EUR', 'EUR', 'USD'] },
            schemaVersion: 2,
          },
        ],
      });
  });

  it('then checks the written schema version where the expectation names one', async () => {
    const outcome = given({}, { events: moneyTypes() }).when(new ReportBalance());
    const data = { cents: 0, currencies: [] };
    await outcome.then({ 'account-1': [{ type: 'BalanceReported', data }] });
    await expect(
      outcome.then({ 'account-1': [{ type: 'BalanceReported', data, schemaVersion: 1 }] }),
    ).rejects.toBeInstanceOf(AssertionError);
  });

  it("given stores current history with the type's serializer, and reads it back decoded", async () => {
    const events = new EventTypeRegistry([
      { type: 'MoneyDeposited', serializer: new MessagePackSerializer() },
    ]);
    await given(
      { 'account-1': [{ type: 'MoneyDeposited', data: { cents: 7, currency: 'EUR' } }] },
      { events },
    )
      .when(new ReportBalance())
      .then({
        'account-1': [{ type: 'BalanceReported', data: { cents: 7, currencies: ['EUR'] } }],
      });
  });

  it('given without event types keeps storing history at version 1, as before', async () => {
    const result = await given({
      'account-1': [{ type: 'MoneyDeposited', data: { cents: 1, currency: 'EUR' } }],
    })
      .when(new ReportBalance())
      .then({
        'account-1': [{ type: 'BalanceReported', data: { cents: 1, currencies: ['EUR'] } }],
      });
    expect(result.events[0]!.schemaVersion).toBe(1);
  });

  it('projectEvents hands the handler upcast events, in order, in the current shape', async () => {
    const seen: RecordedEvent[] = [];
    const delivered = await projectEvents(
      { handle: (event) => void seen.push(event) },
      [
        ['account-1', { type: 'MoneyDeposited', schemaVersion: 1, data: { amount: 2 } }],
        ['account-2', { type: 'MoneyDeposited', schemaVersion: 2, data: { cents: 3 } }],
        ['account-1', { type: 'MoneyDeposited', data: { cents: 4, currency: 'USD' } }],
      ],
      { events: moneyTypes() },
    );
    expect(seen.map((e) => [e.streamId, e.streamVersion, e.schemaVersion, e.data])).toEqual([
      ['account-1', 1, 3, { cents: 200, currency: 'EUR' }],
      ['account-2', 1, 3, { cents: 3, currency: 'EUR' }],
      ['account-1', 2, 3, { cents: 4, currency: 'USD' }],
    ]);
    expect(delivered).toEqual(seen);
    expect(Object.isFrozen(seen[0])).toBe(true);
  });

  it('projectEvents passes the transaction and fails with EventDecodeError on an undecodable event', async () => {
    const txs: unknown[] = [];
    await projectEvents(
      { handle: (_event, context) => void txs.push(context.tx) },
      { 'account-1': [{ type: 'MoneyDeposited', data: { cents: 1, currency: 'EUR' } }] },
      { tx: 'tx-1', events: moneyTypes() },
    );
    expect(txs).toEqual(['tx-1']);
    await expect(
      projectEvents(
        { handle: () => undefined },
        [['account-1', { type: 'MoneyDeposited', schemaVersion: 4, data: {} }]],
        { events: moneyTypes() },
      ),
    ).rejects.toMatchObject({
      code: ErrorCodes.eventDecode,
      streamId: 'account-1',
      eventType: 'MoneyDeposited',
      storedVersion: 4,
    });
  });
});
