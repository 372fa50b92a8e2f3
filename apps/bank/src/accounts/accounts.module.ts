import { Module } from '@nestjs/common';
import { AccountBalanceQuery } from './account-balance.query';
import { AccountsController } from './accounts.controller';

/** Accounts, deposits, withdrawals and transfers. */
@Module({ controllers: [AccountsController], providers: [AccountBalanceQuery] })
export class AccountsModule {}
