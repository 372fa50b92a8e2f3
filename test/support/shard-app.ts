import 'reflect-metadata';
import { Controller, Get, Injectable, type DynamicModule, Module, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Position, ProjectionContext, RecordedEvent } from '@eventcore/core';
import {
  EventCoreExceptionFilter,
  EventCoreModule,
  eventCoreValidationPipe,
  JwtClaimTenantResolver,
  Projection,
  ProjectionHost,
  ProjectionRegistry,
} from '@eventcore/nestjs';
import { EventCoreNatsModule } from '@eventcore/nats';
import { createPostgresDatabaseTenants, type PostgresProjectionTx } from '@eventcore/postgres';
import { AccountsModule } from '../../apps/bank/src/accounts/accounts.module';
import type { BankEvent } from '../../apps/bank/src/accounts/bank.events';

/*
 * One instance of the bank's accounts API with `placement: 'database'` tenancy, run as a child
 * process by test/tenancy-shards.e2e-spec.ts. The tenant is the `tenant` claim of an HS256 JWT.
 * Per tenant: a balances projection whose table lives in the tenant's database (exactly once with
 * its checkpoint) and, with NATS_URL, the JetStream forwarder.
 *
 * Environment: DIRECTORY_URL (the control database), DATABASE_PREFIX, JWT_SECRET, and optionally
 * NATS_URL, NATS_STREAM, NATS_SUBJECT_PREFIX. Prints `{"listening":"<url>"}` once it serves.
 */

/** Balance and number of applied events per account, in `eventcore.balances` of each tenant. */
@Projection({ name: 'balances', streams: ['account-'], pollIntervalMs: 50 })
@Injectable()
class Balances extends ProjectionHost<PostgresProjectionTx> {
  override async setup(context: ProjectionContext<PostgresProjectionTx>): Promise<void> {
    await context.tx.query(
      `CREATE TABLE IF NOT EXISTS eventcore.balances (
         account text PRIMARY KEY, balance bigint NOT NULL, events int NOT NULL)`,
    );
  }

  async handle(
    event: RecordedEvent,
    context: ProjectionContext<PostgresProjectionTx>,
  ): Promise<void> {
    const { type, data } = event as RecordedEvent<BankEvent>;
    const delta =
      type === 'MoneyDeposited' || type === 'MoneyTransferredIn'
        ? (data as { amount: number }).amount
        : type === 'MoneyWithdrawn' || type === 'MoneyTransferredOut'
          ? -(data as { amount: number }).amount
          : 0;
    await context.tx.query(
      `INSERT INTO eventcore.balances AS b (account, balance, events) VALUES ($1, $2, 1)
       ON CONFLICT (account) DO UPDATE SET balance = b.balance + $2, events = b.events + 1`,
      [event.streamId, delta],
    );
  }
}

@Controller()
class ShardController {
  constructor(private readonly projections: ProjectionRegistry) {}

  /** The caller's tenant's projections on this instance, without waiting. */
  @Get('projections')
  list() {
    return this.projections.list().map((p) => ({ name: p.name, state: p.state }));
  }

  /** Waits until the caller's tenant's projections have passed `after`; answers their states. */
  @Get('caught-up')
  async caughtUp(@Query('after') after: string) {
    await this.projections.waitFor(after as Position, { timeoutMs: 45_000 });
    return this.projections.list().map((p) => ({ name: p.name, state: p.state }));
  }
}

@Module({})
class ShardAppModule {
  static async forRoot(): Promise<DynamicModule> {
    const tenants = await createPostgresDatabaseTenants({
      directoryConnectionString: required('DIRECTORY_URL'),
      databasePrefix: required('DATABASE_PREFIX'),
      poolSizePerTenant: 2,
    });
    const nats = process.env.NATS_URL;
    return {
      module: ShardAppModule,
      imports: [
        EventCoreModule.forRoot({
          tenancy: {
            placement: 'database',
            resolver: new JwtClaimTenantResolver({
              key: { algorithm: 'HS256', secret: required('JWT_SECRET') },
            }),
            stores: tenants,
          },
        }),
        AccountsModule,
        ...(nats === undefined
          ? []
          : [
              EventCoreNatsModule.forRoot({
                servers: nats,
                stream: required('NATS_STREAM'),
                subjectPrefix: required('NATS_SUBJECT_PREFIX'),
                streams: ['account-'],
                // No `tenant` option: under tenancy the subjects name the tenant by default.
              }),
            ]),
      ],
      controllers: [ShardController],
      providers: [Balances],
    };
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} must be set`);
  return value;
}

async function main(): Promise<void> {
  const app = await NestFactory.create(await ShardAppModule.forRoot(), {
    logger: ['error', 'warn'],
  });
  app.useGlobalPipes(eventCoreValidationPipe());
  app.useGlobalFilters(new EventCoreExceptionFilter());
  await app.listen(0, '127.0.0.1');
  console.log(JSON.stringify({ listening: await app.getUrl() }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
