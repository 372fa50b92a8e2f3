import {
  convertEventsToPartitioned,
  migrate,
  PgPoolSqlExecutor,
  SCHEMA_MIGRATIONS,
} from '@eventcore/postgres';
import { createTestDatabase } from '@eventcore/postgres/testing';
import { cpus } from 'node:os';

/** Events per INSERT while filling: one statement per 100,000 keeps the fill's WAL flushes few. */
const FILL_CHUNK = 100_000;

/**
 * `npm run bench -- --convert [--convert-events N]` (default 1,000,000): the time
 * `convertEventsToPartitioned` takes per million events. Fills a schema at version 7 (the layout a
 * store has before version 8) with N deposit-sized events in 1,000 streams, migrates it to version
 * 8 (which keeps a table with events unpartitioned), then converts it with the default batch size,
 * without concurrent appends. Prints JSON: the copy, index and swap times and seconds per million.
 * Fresh database, dropped at the end.
 */
export async function runConvertBench(events: number): Promise<void> {
  const database = await createTestDatabase();
  const pool = database.pool({ max: 2 });
  const executor = new PgPoolSqlExecutor(pool, false);
  try {
    for (const migration of SCHEMA_MIGRATIONS.filter((m) => m.version < 8)) {
      for (const statement of migration.up('bench')) await pool.query(statement);
    }
    process.stderr.write(`filling ${events.toLocaleString('en-US')} events ...\n`);
    for (let from = 0; from < events; from += FILL_CHUNK) {
      await pool.query(
        `INSERT INTO bench.events (global_position, stream_id, stream_version, event_id, type, data, metadata, occurred_at)
         SELECT nextval('bench.events_position_seq'), 'account-' || (n % 1000), n / 1000 + 1, gen_random_uuid(),
                'MoneyDeposited', jsonb_build_object('amount', n % 100 + 1),
                jsonb_build_object('correlationId', gen_random_uuid(), 'causationId', gen_random_uuid(),
                                   'userId', NULL, 'custom', '{}'::jsonb),
                now()
           FROM generate_series($1::bigint, $2::bigint - 1) AS n`,
        [from, Math.min(from + FILL_CHUNK, events)],
      );
    }
    await pool.query(
      `INSERT INTO bench.streams (stream_id, version)
       SELECT stream_id, max(stream_version) FROM bench.events GROUP BY stream_id`,
    );
    await migrate(executor, { schema: 'bench' });
    await pool.query('VACUUM (ANALYZE) bench.events');
    await pool.query('CHECKPOINT');

    process.stderr.write('converting ...\n');
    const started = performance.now();
    let copiedAt = started;
    const result = await convertEventsToPartitioned(executor, {
      schema: 'bench',
      onProgress: (p) => {
        if (p.phase === 'copying') copiedAt = performance.now();
      },
    });
    const totalMs = performance.now() - started;
    const output = {
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      date: new Date().toISOString(),
      events,
      batchSize: 50_000,
      copyMs: Math.round(copiedAt - started),
      indexAndSwapMs: Math.round(totalMs - (copiedAt - started)),
      swapMs: result.swapMs,
      totalMs: Math.round(totalMs),
      secondsPerMillion: Math.round((totalMs / 1000 / (events / 1_000_000)) * 100) / 100,
    };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    await executor.close();
    await pool.end().catch(() => undefined);
    await database.drop();
  }
}
