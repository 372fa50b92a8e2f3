import { BusinessRuleViolationError, ErrorCodes, streamId } from '@eventcore/core';
import { given, projectEvents } from '@eventcore/core/testing';
import { Deposit, OpenAccount, TransferMoney, Withdraw } from './bank.commands';

/** The bank's commands, specified with the testing kit: no store, no Nest. */
describe('bank commands (given/when/then)', () => {
  const alice = streamId('account-alice');
  const bob = streamId('account-bob');
  const opened = (owner: string) => ({ type: 'AccountOpened', data: { owner } });
  const deposited = (amount: number) => ({ type: 'MoneyDeposited', data: { amount } });

  it('opens an account', async () => {
    await given()
      .when(new OpenAccount(alice, 'Alice'))
      .then({ [alice]: [opened('Alice')] });
  });

  it('refuses to open an account twice', async () => {
    const error = await given({ [alice]: [opened('Alice')] })
      .when(new OpenAccount(alice, 'Alice again'))
      .thenFails(BusinessRuleViolationError, 'already exists');
    expect((error as BusinessRuleViolationError).rule).toBe('account.already_exists');
  });

  it('deposits into an open account only', async () => {
    await given({ [alice]: [opened('Alice')] })
      .when(new Deposit(alice, 10))
      .then({ [alice]: [deposited(10)] });
    await given()
      .when(new Deposit(alice, 10))
      .thenFails(ErrorCodes.businessRuleViolation, 'does not exist');
  });

  it('refuses invalid input before anything else', async () => {
    await given({ [alice]: [opened('Alice')] })
      .when(new Deposit(alice, -1))
      .thenFails(ErrorCodes.commandValidation, /amount/);
  });

  it('withdraws only what the account holds', async () => {
    const history = { [alice]: [opened('Alice'), deposited(50)] };
    await given(history)
      .when(new Withdraw(alice, 50))
      .then({ [alice]: [{ type: 'MoneyWithdrawn', data: { amount: 50 } }] });
    await given(history)
      .when(new Withdraw(alice, 51))
      .thenFails(ErrorCodes.businessRuleViolation, 'insufficient');
  });

  it('transfers between two accounts in one write', async () => {
    await given({ [alice]: [opened('Alice'), deposited(100)], [bob]: [opened('Bob')] })
      .when(new TransferMoney(alice, bob, 30))
      .then({
        [alice]: [{ type: 'MoneyTransferredOut', data: { to: bob, amount: 30 } }],
        [bob]: [{ type: 'MoneyTransferredIn', data: { from: alice, amount: 30 } }],
      });
  });

  it('refuses a transfer to an unknown account or to the same account', async () => {
    await given({ [alice]: [opened('Alice'), deposited(100)] })
      .when(new TransferMoney(alice, bob, 30))
      .thenFails(ErrorCodes.businessRuleViolation, 'target account does not exist');
    await given({ [alice]: [opened('Alice'), deposited(100)] })
      .when(new TransferMoney(alice, alice, 30))
      .thenFails(ErrorCodes.businessRuleViolation, 'same account');
  });

  it('reports a wrong expectation as an assertion failure', async () => {
    await expect(
      given({ [alice]: [opened('Alice')] })
        .when(new Deposit(alice, 10))
        .then({ [alice]: [deposited(11)] }),
    ).rejects.toThrow('The command wrote other events than expected');
    await expect(given().when(new Deposit(alice, 10)).then({})).rejects.toThrow(
      'the command failed',
    );
  });

  it('feeds a projection handler with projectEvents', async () => {
    const balances = new Map<string, number>();
    const handler = {
      handle(event: { streamId: string; data: unknown; type: string }) {
        const amount = (event.data as { amount?: number }).amount ?? 0;
        balances.set(
          event.streamId,
          (balances.get(event.streamId) ?? 0) + (event.type === 'MoneyDeposited' ? amount : 0),
        );
      },
    };
    await projectEvents(handler, [
      [alice, opened('Alice')],
      [alice, deposited(5)],
      [bob, deposited(7)],
      [alice, deposited(1)],
    ]);
    expect(Object.fromEntries(balances)).toEqual({ [alice]: 6, [bob]: 7 });
  });
});
