import { newEventId } from '@eventcore/core';
import type { Pool } from 'pg';
import { runConcurrently, type Scenario } from './harness';

/**
 * The raw limits' tables. Minimal: `raw_events` for inserts (as in every earlier round) and
 * `raw_streams` for everything that reads a stream (the one key its read and its conflict check
 * need). Same schema: `raw_schema_events`, a copy of the store's events table with every column,
 * default, check and index (`LIKE … INCLUDING ALL`, so it follows the schema's migrations), its
 * positions from a sequence.
 */
export const RAW_TABLES = {
  minimalInsert: 'raw_events',
  minimal: 'raw_streams',
  schema: 'raw_schema_events',
} as const;

/**
 * The SQL that creates {@link RAW_TABLES} beside the store's `events` table (stated in the docs).
 * The stream tables start with 50,000 events of 5,000 other streams, analysed, so that their
 * plans are those of a table in use from the first statement (an empty table's would scan it).
 */
export function rawTablesSql(eventsTable: string): string[] {
  const { minimalInsert, minimal, schema } = RAW_TABLES;
  const filler = 'FROM generate_series(0, 49999) AS g';
  return [
    `CREATE TABLE ${minimalInsert} (id bigserial PRIMARY KEY, stream_id text NOT NULL, data jsonb NOT NULL)`,
    `CREATE TABLE ${minimal} (stream_id text NOT NULL, version integer NOT NULL, data jsonb NOT NULL, PRIMARY KEY (stream_id, version))`,
    `CREATE TABLE ${schema} (LIKE ${eventsTable} INCLUDING ALL)`,
    `CREATE SEQUENCE ${schema}_position_seq AS bigint CACHE 1 OWNED BY ${schema}.global_position`,
    `ALTER TABLE ${schema} ALTER COLUMN global_position SET DEFAULT nextval('${schema}_position_seq')`,
    `INSERT INTO ${minimal} (stream_id, version, data)
       SELECT 'filler-' || g / 10, g % 10 + 1, '{"amount":1}' ${filler}`,
    `INSERT INTO ${schema} (stream_id, stream_version, event_id, type, data, metadata, occurred_at)
       SELECT 'filler-' || g / 10, g % 10 + 1, gen_random_uuid(), 'MoneyDeposited', '{"amount":1}',
              jsonb_build_object('correlationId', gen_random_uuid(), 'causationId', gen_random_uuid(),
                                 'userId', null, 'custom', '{}'::jsonb),
              now()
       ${filler}`,
    `ANALYZE ${minimal}`,
    `ANALYZE ${schema}`,
  ];
}

/** Which of the two tables a raw limit writes: minimal (`pg.raw.*`) or the store's (`pg.raw.schema.*`). */
export type RawTable = 'minimal' | 'schema';

/** The name of a raw limit on `table`: `pg.raw.<kind>` or `pg.raw.schema.<kind>`. */
export function rawName(table: RawTable, kind: string): string {
  return table === 'minimal' ? `pg.raw.${kind}` : `pg.raw.schema.${kind}`;
}

/** One event to write with plain `pg`: the columns both tables take, and what only the store's takes. */
interface RawEvent {
  readonly streamId: string;
  readonly version: number;
  readonly type: string;
  readonly data: string;
}

/** A row read back: the fold needs the version and the data. */
interface RawRow {
  readonly stream_id: string;
  readonly version: string;
  readonly data: { amount?: number };
}

/**
 * The statements of one table, as prepared (named) statements: the best plain `pg` does. The
 * store's table also takes an event id, a type, metadata and a time per event, as the store
 * writes them (positions, transaction ids, record times and the rest come from defaults).
 */
function statements(table: RawTable) {
  const t = table === 'minimal' ? RAW_TABLES.minimal : RAW_TABLES.schema;
  const version = table === 'minimal' ? 'version' : 'stream_version';
  const columns =
    table === 'minimal'
      ? 'stream_id, version, data'
      : 'stream_id, stream_version, event_id, type, data, metadata, occurred_at';
  const width = table === 'minimal' ? 3 : 7;
  const values = (rows: number) =>
    Array.from(
      { length: rows },
      (_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`,
    ).join(', ');
  const params = (events: readonly RawEvent[]) => {
    // One command's events share their metadata and time, as the executor's do.
    const id = newEventId();
    const metadata = JSON.stringify({
      correlationId: id,
      causationId: id,
      userId: null,
      custom: {},
    });
    const now = new Date().toISOString();
    return events.flatMap((e) =>
      table === 'minimal'
        ? [e.streamId, e.version, e.data]
        : [e.streamId, e.version, newEventId(), e.type, e.data, metadata, now],
    );
  };
  return {
    readOne: {
      name: `raw_read1_${table}`,
      text: `SELECT stream_id, ${version} AS version, data FROM ${t} WHERE stream_id = $1 ORDER BY ${version}`,
    },
    readMany: {
      name: `raw_readn_${table}`,
      text: `SELECT stream_id, ${version} AS version, data FROM ${t} WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, ${version}`,
    },
    /** A prepared INSERT of `events.length` rows (one name per row count). */
    insert: (events: readonly RawEvent[]) => ({
      name: `raw_insert${events.length}_${table}`,
      text: `INSERT INTO ${t} (${columns}) VALUES ${values(events.length)}`,
      values: params(events),
    }),
  };
}

/** Streams' versions and balances after a raw read. */
function fold(rows: readonly RawRow[]): Map<string, { version: number; balance: number }> {
  const streams = new Map<string, { version: number; balance: number }>();
  for (const row of rows) {
    const s = streams.get(row.stream_id) ?? { version: 0, balance: 0 };
    s.version = Number(row.version);
    s.balance += row.data.amount ?? 0;
    streams.set(row.stream_id, s);
  }
  return streams;
}

const deposited = (streamId: string, version: number): RawEvent => ({
  streamId,
  version,
  type: 'MoneyDeposited',
  data: '{"amount":1}',
});

/** The raw limits of the write scenarios, each for either table (see {@link RAW_TABLES}). */
export interface RawLimits {
  /** One-row INSERT transactions (autocommit) by `concurrency` connections. */
  insert(table: RawTable, concurrency: number): Scenario;
  /** SELECT a stream's events, then INSERT its next version: two round trips. */
  command(table: RawTable, concurrency: number): Scenario;
  /** SELECT two streams' events in one query, then INSERT one event on each in one statement. */
  transfer(table: RawTable, concurrency: number): Scenario;
  /** 1,000 rows in one INSERT. */
  multirow(table: RawTable): Scenario;
}

/** Builds the raw limits of the write scenarios (see {@link RawLimits}). */
export function rawLimits(pool: Pool, quick: boolean): RawLimits {
  const commands = quick ? 400 : 2000;
  const perClient = (concurrency: number) => Math.ceil(commands / concurrency);
  let round = 0;
  /** 25 streams per client, fresh every run, as in the EventCore command scenarios. */
  const stream = (kind: string, client: number, i: number) =>
    `${kind}-${round}-${client}-${i % 25}`;

  /** Opens (and funds) every stream of a run before it starts, as `openAccounts` does. */
  const open = async (table: RawTable, kind: string, concurrency: number, funds: number) => {
    const sql = statements(table);
    const events = Array.from({ length: concurrency * 25 }, (_, k) =>
      stream(kind, Math.floor(k / 25), k),
    ).flatMap((id): RawEvent[] => [
      { streamId: id, version: 1, type: 'AccountOpened', data: JSON.stringify({ owner: id }) },
      ...(funds > 0
        ? [{ streamId: id, version: 2, type: 'MoneyDeposited', data: `{"amount":${funds}}` }]
        : []),
    ]);
    for (let i = 0; i < events.length; i += 400) {
      await pool.query(sql.insert(events.slice(i, i + 400)));
    }
  };

  const insert = (table: RawTable, concurrency: number): Scenario => {
    let run = 0;
    return {
      name: rawName(table, `insert.c${concurrency}`),
      unit: 'transactions/s',
      concurrency,
      async run() {
        const n = perClient(concurrency);
        run++;
        await runConcurrently(concurrency, concurrency, async (client) => {
          for (let i = 0; i < n; i++) {
            if (table === 'minimal') {
              await pool.query({
                name: 'raw_insert_events',
                text: `INSERT INTO ${RAW_TABLES.minimalInsert} (stream_id, data) VALUES ($1, $2)`,
                values: [`raw-${client}`, '{"amount":1}'],
              });
            } else {
              await pool.query(
                statements(table).insert([
                  deposited(`rawins-c${concurrency}-${run}-${client}`, i + 1),
                ]),
              );
            }
          }
        });
        return n * concurrency;
      },
    };
  };

  const command = (table: RawTable, concurrency: number): Scenario => {
    const sql = statements(table);
    const kind = `rawcmd-${table}-c${concurrency}`;
    return {
      name: rawName(table, `command.c${concurrency}`),
      unit: 'commands/s',
      concurrency,
      async prepare() {
        round++;
        await open(table, kind, concurrency, 0);
      },
      async run() {
        const n = perClient(concurrency);
        await runConcurrently(concurrency, concurrency, async (client) => {
          for (let i = 0; i < n; i++) {
            const id = stream(kind, client, i);
            const { rows } = await pool.query<RawRow>({ ...sql.readOne, values: [id] });
            const state = fold(rows).get(id);
            if (state === undefined) throw new Error(`raw command: ${id} is not open`);
            await pool.query(sql.insert([deposited(id, state.version + 1)]));
          }
        });
        return n * concurrency;
      },
    };
  };

  const transfer = (table: RawTable, concurrency: number): Scenario => {
    const sql = statements(table);
    const kind = `rawtransfer-${table}-c${concurrency}`;
    return {
      name: rawName(table, `transfer.c${concurrency}`),
      unit: 'commands/s',
      concurrency,
      async prepare() {
        round++;
        await open(table, kind, concurrency, 1_000_000);
      },
      async run() {
        const n = perClient(concurrency);
        await runConcurrently(concurrency, concurrency, async (client) => {
          for (let i = 0; i < n; i++) {
            // The pairs of pg.command.transfer: they change from one command to the next.
            const [a, b] = [stream(kind, client, 2 * i), stream(kind, client, 2 * i + 1)];
            const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
            const { rows } = await pool.query<RawRow>({ ...sql.readMany, values: [[from, to]] });
            const streams = fold(rows);
            const source = streams.get(from);
            const target = streams.get(to);
            if (source === undefined || target === undefined || source.balance < 1) {
              throw new Error(`raw transfer: ${from} → ${to} cannot move 1`);
            }
            await pool.query(
              sql.insert([
                { ...deposited(from, source.version + 1), type: 'MoneyWithdrawn' },
                deposited(to, target.version + 1),
              ]),
            );
          }
        });
        return n * concurrency;
      },
    };
  };

  const batches = quick ? 5 : 20;
  /**
   * One statement of 1,000 rows, the columns as arrays through `unnest` (faster than a 1,000-row
   * VALUES list: 54–63k against 44–45k events/s into the store's table in one measurement).
   */
  const multirow = (table: RawTable): Scenario => {
    let run = 0;
    return {
      name: rawName(table, 'multirow1000'),
      unit: 'events/s',
      concurrency: 1,
      async run() {
        run++;
        for (let b = 0; b < batches; b++) {
          const data = Array.from({ length: 1000 }, (_, i) =>
            JSON.stringify({ amount: i, note: 'batch' }),
          );
          if (table === 'minimal') {
            await pool.query({
              name: 'raw_multirow_events',
              text: `INSERT INTO ${RAW_TABLES.minimalInsert} (stream_id, data)
                     SELECT $1, d FROM unnest($2::jsonb[]) AS t(d)`,
              values: ['raw-batch', data],
            });
          } else {
            const id = newEventId();
            await pool.query({
              name: 'raw_multirow_schema',
              text: `INSERT INTO ${RAW_TABLES.schema}
                       (stream_id, stream_version, event_id, type, data, metadata, occurred_at)
                     SELECT $1, v, e, $2, d, $3, $4
                       FROM unnest($5::bigint[], $6::uuid[], $7::jsonb[]) AS t(v, e, d)`,
              values: [
                `rawbatch-${run}-${b}`,
                'MoneyDeposited',
                JSON.stringify({ correlationId: id, causationId: id, userId: null, custom: {} }),
                new Date().toISOString(),
                data.map((_, i) => i + 1),
                data.map(() => newEventId()),
                data,
              ],
            });
          }
        }
        return batches * 1000;
      },
    };
  };

  return { insert, command, transfer, multirow };
}

/**
 * Reading a 100,000-event stream with plain `pg`: from the store's own table (`stream`, as the
 * store reads it) and from a minimal copy of the same rows in `raw_streams`.
 */
export function rawSelectScenarios(
  pool: Pool,
  stream: string,
  ready: () => Promise<void>,
): Scenario[] {
  let copied = false;
  const select = (table: RawTable): Scenario => ({
    name: rawName(table, 'select100k'),
    unit: 'events/s',
    concurrency: 1,
    async setup() {
      await ready();
      if (table === 'minimal' && !copied) {
        await pool.query(
          `INSERT INTO ${RAW_TABLES.minimal} (stream_id, version, data)
           SELECT stream_id, stream_version, data FROM bench.events WHERE stream_id = $1`,
          [stream],
        );
        await pool.query(`ANALYZE ${RAW_TABLES.minimal}`);
        copied = true;
      }
    },
    async run() {
      const { rows } = await pool.query<{ data: string }>(
        table === 'minimal'
          ? `SELECT data::text AS data FROM ${RAW_TABLES.minimal} WHERE stream_id = $1 ORDER BY version`
          : 'SELECT data::text AS data FROM bench.events WHERE stream_id = $1 ORDER BY global_position',
        [stream],
      );
      let total = 0;
      // The opening has no amount.
      for (const row of rows) total += (JSON.parse(row.data) as { amount?: number }).amount ?? 0;
      if (total < 0) throw new Error('unreachable');
      return rows.length;
    },
  });
  return [select('minimal'), select('schema')];
}
