import { type RecordedEvent, type StreamId, streamId } from '@eventcore/core';

/** Everything that can happen to an account. Amounts are integer cents. */
export type BankEvent =
  | { type: 'AccountOpened'; data: { owner: string } }
  | { type: 'MoneyDeposited'; data: { amount: number } }
  | { type: 'MoneyWithdrawn'; data: { amount: number } }
  | { type: 'MoneyTransferredOut'; data: { to: string; amount: number } }
  | { type: 'MoneyTransferredIn'; data: { from: string; amount: number } };

/** What the commands need to know about one account. */
export interface AccountState {
  readonly opened: boolean;
  readonly owner: string | null;
  readonly balance: number;
}

/** An account that has not been opened. */
export const closedAccount: AccountState = Object.freeze({
  opened: false,
  owner: null,
  balance: 0,
});

/** Business rule identifiers, mapped to HTTP statuses by the exception filter. */
export const BankRules = {
  accountNotFound: 'account.not_found',
  accountExists: 'account.already_exists',
  insufficientFunds: 'account.insufficient_funds',
  sameAccount: 'transfer.same_account',
} as const;

/** The stream of account `id`. */
export function accountStream(id: string): StreamId {
  return streamId(`account-${id}`);
}

/** Folds one event into an account's state. */
export function evolveAccount(state: AccountState, event: RecordedEvent<BankEvent>): AccountState {
  switch (event.type) {
    case 'AccountOpened':
      return { opened: true, owner: event.data.owner, balance: 0 };
    case 'MoneyDeposited':
    case 'MoneyTransferredIn':
      return { ...state, balance: state.balance + event.data.amount };
    case 'MoneyWithdrawn':
    case 'MoneyTransferredOut':
      return { ...state, balance: state.balance - event.data.amount };
    default:
      return state;
  }
}
