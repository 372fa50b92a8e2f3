import {
  AppendConditionFailedError,
  dcbAppend,
  type EventQuery,
  type EventToAppend,
  newEventId,
} from '@eventcore/core';
import type { PostgresEventStore } from '@eventcore/postgres';
import type { Pool } from 'pg';
import { runConcurrently, type Scenario } from './harness';

/** Tags the conditional appends pick from at random: few enough that a tag is read with history. */
const KEYS = 1_000;
/** Events carrying the tag that the read scenario reads. */
const READ_TAG_EVENTS = 100;

/**
 * DCB scenarios (issue 13): the dcb.events pattern — read a random tag query, append one event
 * with that tag under a condition whose `after` is the last position read — at 1 and 16 clients,
 * and a tag-query read, each with its raw limit measured in the same run:
 * - conditional appends vs one-row INSERT transactions (`pg.raw.insert.c1`/`.c16`): a DCB decision
 *   is a read and a conditional append, two round trips, so 0.5 of that limit is the ceiling;
 * - the tag read vs `SELECT` of as many rows by an indexed key from a minimal table
 *   (`pg.raw.select.tag100`).
 * Random keys make conflicts rare but possible (two clients on one key): a failed condition is
 * counted as done work, as the suite does, and reported by the scenario's name only.
 */
export function dcbScenarios(store: PostgresEventStore, pool: Pool, quick: boolean): Scenario[] {
  const appends = quick ? 400 : 2000;
  const event = (tag: string): EventToAppend => ({
    id: newEventId(),
    type: 'KeyUsed',
    data: { at: Date.now() },
    metadata: { correlationId: 'bench', causationId: 'bench', userId: null, custom: {} },
    occurredAt: new Date().toISOString(),
    tags: [tag],
  });
  const keyQuery = (tag: string): EventQuery => ({ items: [{ types: ['KeyUsed'], tags: [tag] }] });

  const conditional = (concurrency: number): Scenario => ({
    name: `pg.dcb.append.conditional.c${concurrency}`,
    unit: 'appends/s',
    concurrency,
    rawLimit: `pg.raw.insert.c${concurrency}`,
    async run() {
      const perClient = Math.ceil(appends / concurrency);
      await runConcurrently(concurrency, concurrency, async () => {
        for (let i = 0; i < perClient; i++) {
          const tag = `key:${Math.floor(Math.random() * KEYS)}`;
          const query = keyQuery(tag);
          const read = await store.read(query, { backwards: true, limit: 1 });
          try {
            await dcbAppend(store, [event(tag)], {
              failIfEventsMatch: query,
              after: read.events[0]?.globalPosition,
            });
          } catch (error) {
            if (!(error instanceof AppendConditionFailedError)) throw error;
          }
        }
      });
      return perClient * concurrency;
    },
  });

  const readTag = 'bench-read:hot';
  let readReady = false;
  const prepareRead = async () => {
    if (readReady) return;
    await dcbAppend(
      store,
      Array.from({ length: READ_TAG_EVENTS }, () => event(readTag)),
    );
    await pool.query(
      'CREATE TABLE IF NOT EXISTS raw_tagged (tag text NOT NULL, position bigserial, data jsonb NOT NULL, PRIMARY KEY (tag, position))',
    );
    await pool.query(
      `INSERT INTO raw_tagged (tag, data) SELECT $1, '{"at":1}' FROM generate_series(1, ${READ_TAG_EVENTS})`,
      [readTag],
    );
    await pool.query('ANALYZE raw_tagged');
    readReady = true;
  };
  const reads = quick ? 200 : 1000;

  return [
    conditional(1),
    conditional(16),
    {
      name: 'pg.raw.select.tag100',
      unit: 'reads/s',
      concurrency: 1,
      setup: prepareRead,
      async run() {
        for (let i = 0; i < reads; i++) {
          const { rows } = await pool.query<{ data: string }>(
            'SELECT data::text AS data FROM raw_tagged WHERE tag = $1 ORDER BY position',
            [readTag],
          );
          for (const row of rows) JSON.parse(row.data);
        }
        return reads;
      },
    },
    {
      name: 'pg.dcb.read.tag100',
      unit: 'reads/s',
      concurrency: 1,
      rawLimit: 'pg.raw.select.tag100',
      setup: prepareRead,
      async run() {
        for (let i = 0; i < reads; i++) {
          const read = await store.read(keyQuery(readTag));
          if (read.events.length !== READ_TAG_EVENTS) {
            throw new Error(`expected ${READ_TAG_EVENTS} events, read ${read.events.length}`);
          }
        }
        return reads;
      },
    },
  ];
}
