#!/usr/bin/env node
/**
 * `eventcore-convert-events`: converts a store's events table to the partitioned layout (see
 * `convertEventsToPartitioned`), printing one JSON line of progress per step. Resumable: run it
 * again after a kill. Migrates the schema first (idempotent, as every store start does).
 *
 *   eventcore-convert-events --url postgres://user@host/db [--schema eventcore] [--batch-size 50000]
 *
 * `--url` defaults to `DATABASE_URL`.
 */
import { Pool } from 'pg';
import { PgPoolSqlExecutor } from '../executor/pg-pool.sql-executor';
import { migrate } from '../schema/migrate';
import { convertEventsToPartitioned } from '../schema/partition-conversion';

function option(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at === -1 ? undefined : args[at + 1];
}

async function main(args: readonly string[]): Promise<void> {
  const url = option(args, '--url') ?? process.env.DATABASE_URL;
  if (url === undefined) {
    throw new Error('give the database as --url postgres://... or in DATABASE_URL');
  }
  const schema = option(args, '--schema');
  const batch = option(args, '--batch-size');
  const executor = new PgPoolSqlExecutor(new Pool({ connectionString: url, max: 1 }), true);
  try {
    await migrate(executor, { schema });
    const started = performance.now();
    await convertEventsToPartitioned(executor, {
      schema,
      batchSize: batch === undefined ? undefined : Number(batch),
      onProgress: (progress) =>
        console.log(
          JSON.stringify({ ...progress, elapsedMs: Math.round(performance.now() - started) }),
        ),
    });
  } finally {
    await executor.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
