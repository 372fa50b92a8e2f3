import 'reflect-metadata';
import {
  Body,
  ConflictException,
  Controller,
  Inject,
  Module,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { newEventId } from '@eventcore/core';
import { EventCoreExceptionFilter, eventCoreValidationPipe, PatternPipe } from '@eventcore/nestjs';
import { createPGliteEventStore, createPostgresEventStore, openPGlite } from '@eventcore/postgres';
import { Pool } from 'pg';
import {
  ACCOUNT_ID_PATTERN,
  AmountDto,
  OpenAccountDto,
  TransferDto,
} from '../../apps/bank/src/accounts/accounts.dto';
import { RAW_TABLES, rawTablesSql } from '../pg-raw.scenarios';

/** Plain SQL on the raw table: `pg` with prepared statements, or PGlite. */
interface RawDb {
  query<R>(name: string, text: string, values: unknown[]): Promise<R[]>;
}

interface Row {
  readonly stream_id: string;
  readonly version: number | string;
  readonly type: string;
  readonly data: { amount?: number };
}

const DB = Symbol('raw db');
const TABLE = RAW_TABLES.schema;
const INSERT = `INSERT INTO ${TABLE} (stream_id, stream_version, event_id, type, data, metadata, occurred_at)`;
/** SQLSTATE unique_violation: another request appended to the stream first. */
const UNIQUE_VIOLATION = '23505';

const accountId = new PatternPipe(
  ACCOUNT_ID_PATTERN,
  'id',
  'id must be 1–64 letters, digits, "-" or "_"',
);

/**
 * The end-to-end bench's limit: the bank's routes on the same HTTP stack (Nest, express, the JSON
 * body parser, the same DTOs and validation pipe), each doing the least a hand-written event store
 * would: read the streams' events, decide, insert the next versions with plain SQL in one
 * statement, into a table with the store's columns and indexes (the unique (stream, version) key
 * is the concurrency check; a conflict reads and tries again). No projection, no outbox, nothing
 * else.
 */
@Controller()
class RawAccountsController {
  constructor(@Inject(DB) private readonly db: RawDb) {}

  @Post('accounts')
  async open(@Body() body: OpenAccountDto): Promise<{ streamVersion: number }> {
    const id = `account-${body.accountId}`;
    return this.decide([id], (streams) => {
      if (streams.has(id)) throw new ConflictException('the account already exists');
      return [{ id, type: 'AccountOpened', data: { owner: body.owner } }];
    });
  }

  @Post('accounts/:id/deposits')
  async deposit(
    @Param('id', accountId) account: string,
    @Body() body: AmountDto,
  ): Promise<{ streamVersion: number }> {
    const id = `account-${account}`;
    return this.decide([id], (streams) => {
      if (!streams.has(id)) throw new NotFoundException('the account does not exist');
      return [{ id, type: 'MoneyDeposited', data: { amount: body.amount } }];
    });
  }

  @Post('transfers')
  async transfer(@Body() body: TransferDto): Promise<{ streamVersion: number }> {
    const [from, to] = [`account-${body.from}`, `account-${body.to}`];
    return this.decide([from, to], (streams) => {
      const source = streams.get(from);
      if (source === undefined || !streams.has(to)) {
        throw new NotFoundException('the account does not exist');
      }
      if (source.balance < body.amount) throw new ConflictException('insufficient funds');
      return [
        { id: from, type: 'MoneyWithdrawn', data: { amount: body.amount } },
        { id: to, type: 'MoneyDeposited', data: { amount: body.amount } },
      ];
    });
  }

  /** Reads the streams, decides, inserts; on a conflict, again. */
  private async decide(
    ids: readonly string[],
    decision: (
      streams: Map<string, { version: number; balance: number }>,
    ) => { id: string; type: string; data: object }[],
  ): Promise<{ streamVersion: number }> {
    for (;;) {
      const rows = await this.db.query<Row>(
        `raw_read${ids.length}`,
        `SELECT stream_id, stream_version AS version, type, data FROM ${TABLE}
          WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`,
        [ids],
      );
      const streams = new Map<string, { version: number; balance: number }>();
      for (const row of rows) {
        const s = streams.get(row.stream_id) ?? { version: 0, balance: 0 };
        s.version = Number(row.version);
        const amount = row.data.amount ?? 0;
        s.balance += row.type === 'MoneyWithdrawn' ? -amount : amount;
        streams.set(row.stream_id, s);
      }
      const events = decision(streams);
      const command = newEventId();
      const metadata = JSON.stringify({
        correlationId: command,
        causationId: command,
        userId: null,
        custom: {},
      });
      const now = new Date().toISOString();
      const values = events.flatMap((e) => [
        e.id,
        (streams.get(e.id)?.version ?? 0) + 1,
        newEventId(),
        e.type,
        JSON.stringify(e.data),
        metadata,
        now,
      ]);
      const placeholders = events
        .map((_, r) => `(${Array.from({ length: 7 }, (_, c) => `$${r * 7 + c + 1}`).join(', ')})`)
        .join(', ');
      try {
        await this.db.query(
          `raw_insert${events.length}`,
          `${INSERT} VALUES ${placeholders}`,
          values,
        );
        return { streamVersion: (streams.get(events[0]!.id)?.version ?? 0) + 1 };
      } catch (error) {
        if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
      }
    }
  }
}

/** The database of the raw app: a server (`RAW_DATABASE_URL`) or PGlite (`RAW_DATA_DIR`). */
async function openDb(): Promise<RawDb> {
  const url = process.env.RAW_DATABASE_URL;
  // The store is created only for its schema: the raw table copies its events table.
  if (url !== undefined) {
    const store = await createPostgresEventStore({ connectionString: url });
    await store.close();
    // The store's default pool size.
    const pool = new Pool({ connectionString: url, max: 10 });
    for (const statement of rawTablesSql(`${store.schema}.events`)) await pool.query(statement);
    return {
      query: async <R>(name: string, text: string, values: unknown[]) =>
        (await pool.query({ name, text, values })).rows as R[],
    };
  }
  const pglite = await openPGlite(process.env.RAW_DATA_DIR);
  const store = await createPGliteEventStore({ db: pglite });
  for (const statement of rawTablesSql(`${store.schema}.events`)) await pglite.query(statement);
  return {
    query: async <R>(_name: string, text: string, values: unknown[]) =>
      (await pglite.query<R>(text, values)).rows,
  };
}

async function main(): Promise<void> {
  // The bench ends this process with a signal: the database goes with it.
  const db = await openDb();
  @Module({ controllers: [RawAccountsController], providers: [{ provide: DB, useValue: db }] })
  class RawAppModule {}
  // As the bank's createBankApp: JSON only, the same pipe and filter.
  const app = await NestFactory.create<NestExpressApplication>(RawAppModule, {
    logger: ['error', 'warn'],
    bodyParser: false,
  });
  app.useBodyParser('json');
  app.useGlobalPipes(eventCoreValidationPipe());
  app.useGlobalFilters(new EventCoreExceptionFilter());
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  process.stdout.write(`Listening on ${await app.getUrl()}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
