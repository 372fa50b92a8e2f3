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
import {
  CommandBus,
  type CommandResponse,
  commandResponse,
  executeOptionsFromHeaders,
  PatternPipe,
} from '@eventcore/nestjs';

import { AccountBalanceQuery, type AccountView } from './account-balance.query';
import { ACCOUNT_ID_PATTERN, AmountDto, OpenAccountDto, TransferDto } from './accounts.dto';
import { Deposit, OpenAccount, TransferMoney, Withdraw } from './bank.commands';
import { accountStream } from './bank.events';

type Headers = Record<string, string | string[] | undefined>;

const accountId = new PatternPipe(
  ACCOUNT_ID_PATTERN,
  'id',
  'id must be 1–64 letters, digits, "-" or "_"',
);

/** The bank's HTTP API. */
@Controller()
export class AccountsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly balances: AccountBalanceQuery,
  ) {}

  @Post('accounts')
  async open(@Body() body: OpenAccountDto, @Headers() headers: Headers): Promise<CommandResponse> {
    const command = new OpenAccount(accountStream(body.accountId), body.owner);
    return commandResponse(
      await this.commands.execute(command, executeOptionsFromHeaders(headers)),
    );
  }

  @Post('accounts/:id/deposits')
  async deposit(
    @Param('id', accountId) id: string,
    @Body() body: AmountDto,
    @Headers() headers: Headers,
  ): Promise<CommandResponse> {
    const command = new Deposit(accountStream(id), body.amount);
    return commandResponse(
      await this.commands.execute(command, executeOptionsFromHeaders(headers)),
    );
  }

  @Post('accounts/:id/withdrawals')
  async withdraw(
    @Param('id', accountId) id: string,
    @Body() body: AmountDto,
    @Headers() headers: Headers,
  ): Promise<CommandResponse> {
    const command = new Withdraw(accountStream(id), body.amount);
    return commandResponse(
      await this.commands.execute(command, executeOptionsFromHeaders(headers)),
    );
  }

  @Post('transfers')
  async transfer(@Body() body: TransferDto, @Headers() headers: Headers): Promise<CommandResponse> {
    const command = new TransferMoney(
      accountStream(body.from),
      accountStream(body.to),
      body.amount,
    );
    return commandResponse(
      await this.commands.execute(command, executeOptionsFromHeaders(headers)),
    );
  }

  @Get('accounts/:id')
  @HttpCode(200)
  async get(@Param('id', accountId) id: string): Promise<AccountView> {
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
