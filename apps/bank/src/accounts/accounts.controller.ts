import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import type { CommandResult } from '@eventcore/core';
import { CommandBus } from '@eventcore/nestjs';
import { executeOptionsFrom } from '../http/request-context';
import { AccountBalanceQuery, type AccountView } from './account-balance.query';
import { AccountIdPipe } from './account-id.pipe';
import { AmountDto, OpenAccountDto, TransferDto } from './accounts.dto';
import { Deposit, OpenAccount, TransferMoney, Withdraw } from './bank.commands';
import { accountStream } from './bank.events';

type Headers = Record<string, string | string[] | undefined>;

/** What a write endpoint answers: where the events went and how to read your own write. */
export interface WriteResponse {
  readonly commandId: string;
  readonly position: string;
  readonly streamVersions: Readonly<Record<string, number>>;
  readonly attempts: number;
  readonly replayed: boolean;
}

function toResponse(result: CommandResult): WriteResponse {
  const { commandId, position, streamVersions, attempts, replayed } = result;
  return { commandId, position, streamVersions, attempts, replayed };
}

/** The bank's HTTP API. */
@Controller()
export class AccountsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly balances: AccountBalanceQuery,
  ) {}

  @Post('accounts')
  async open(@Body() body: OpenAccountDto, @Headers() headers: Headers): Promise<WriteResponse> {
    const command = new OpenAccount(accountStream(body.accountId), body.owner);
    return toResponse(await this.commands.execute(command, executeOptionsFrom(headers)));
  }

  @Post('accounts/:id/deposits')
  async deposit(
    @Param('id', AccountIdPipe) id: string,
    @Body() body: AmountDto,
    @Headers() headers: Headers,
  ): Promise<WriteResponse> {
    const command = new Deposit(accountStream(id), body.amount);
    return toResponse(await this.commands.execute(command, executeOptionsFrom(headers)));
  }

  @Post('accounts/:id/withdrawals')
  async withdraw(
    @Param('id', AccountIdPipe) id: string,
    @Body() body: AmountDto,
    @Headers() headers: Headers,
  ): Promise<WriteResponse> {
    const command = new Withdraw(accountStream(id), body.amount);
    return toResponse(await this.commands.execute(command, executeOptionsFrom(headers)));
  }

  @Post('transfers')
  async transfer(@Body() body: TransferDto, @Headers() headers: Headers): Promise<WriteResponse> {
    const command = new TransferMoney(
      accountStream(body.from),
      accountStream(body.to),
      body.amount,
    );
    return toResponse(await this.commands.execute(command, executeOptionsFrom(headers)));
  }

  @Get('accounts/:id')
  @HttpCode(200)
  async get(@Param('id', AccountIdPipe) id: string): Promise<AccountView> {
    const account = await this.balances.find(id);
    if (account === undefined) {
      throw new NotFoundException({
        code: 'account.not_found',
        message: `Account ${id} does not exist.`,
      });
    }
    return account;
  }
}
