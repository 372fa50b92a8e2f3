import { Injectable } from '@nestjs/common';
import type { EventStore, RecordedEvent } from '@eventcore/core';
import { InjectEventStore } from '@eventcore/nestjs';
import {
  type AccountState,
  type BankEvent,
  accountStream,
  closedAccount,
  evolveAccount,
} from './bank.events';

/** An account as the API shows it. */
export interface AccountView {
  readonly id: string;
  readonly owner: string;
  readonly balance: number;
  readonly version: number;
}

/** Reads an account's balance by folding its stream (strongly consistent, no read model needed). */
@Injectable()
export class AccountBalanceQuery {
  constructor(@InjectEventStore() private readonly store: EventStore) {}

  /** The account, or `undefined` when it was never opened. */
  async find(id: string): Promise<AccountView | undefined> {
    const stream = accountStream(id);
    const read = await this.store.readStreams([stream]);
    const state = read.events.reduce<AccountState>(
      (s, e) => evolveAccount(s, e as RecordedEvent<BankEvent>),
      closedAccount,
    );
    if (!state.opened) return undefined;
    return {
      id,
      owner: state.owner ?? '',
      balance: state.balance,
      version: read.versions.get(stream) ?? 0,
    };
  }
}
