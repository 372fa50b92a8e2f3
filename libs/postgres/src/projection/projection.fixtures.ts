import {
  type EventStore,
  ExpectedVersion,
  type Position,
  type ProjectionHandler,
  type RecordedEvent,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { SqlQueryable } from '../executor/sql-executor';
import type { PostgresProjectionTx } from './postgres.checkpoint-store';

/**
 * A read model for the projection tests: every handled event is a row of `handled` (its `n` counts
 * applications, so a double delivery shows as n = 2, and `seq` is the order it was handled in) and
 * per-stream sums in `sums`. Written only through the checkpoint store's transaction.
 */
export class SumsReadModel implements ProjectionHandler<PostgresProjectionTx> {
  /** Throws after writing, while it returns true: the write must be rolled back. */
  failOn: ((event: RecordedEvent) => boolean) | undefined;

  constructor(readonly table: string) {}

  static async create(db: SqlQueryable, table: string): Promise<SumsReadModel> {
    await db.query(`CREATE TABLE ${table}_handled (
      event_id text PRIMARY KEY, seq bigserial NOT NULL, global_position bigint NOT NULL, n int NOT NULL DEFAULT 1)`);
    await db.query(`CREATE TABLE ${table}_sums (
      stream_id text PRIMARY KEY, total bigint NOT NULL, events int NOT NULL)`);
    return new SumsReadModel(table);
  }

  async handle(event: RecordedEvent, { tx }: { tx: PostgresProjectionTx }): Promise<void> {
    await tx.query(
      `INSERT INTO ${this.table}_handled (event_id, global_position) VALUES ($1, $2)
       ON CONFLICT (event_id) DO UPDATE SET n = ${this.table}_handled.n + 1`,
      [event.id, event.globalPosition],
    );
    await tx.query(
      `INSERT INTO ${this.table}_sums AS s (stream_id, total, events) VALUES ($1, $2, 1)
       ON CONFLICT (stream_id) DO UPDATE SET total = s.total + EXCLUDED.total, events = s.events + 1`,
      [event.streamId, amountOf(event)],
    );
    if (this.failOn?.(event)) throw new Error(`cannot handle event ${event.globalPosition}`);
  }

  async reset({ tx }: { tx: PostgresProjectionTx }): Promise<void> {
    await tx.query(`TRUNCATE ${this.table}_handled, ${this.table}_sums`);
  }

  /** What the tables hold: sums per stream, handled event ids in handling order, doubles. */
  async read(db: SqlQueryable) {
    const sums = await db.query<{ stream_id: string; total: string; events: number }>(
      `SELECT stream_id, total, events FROM ${this.table}_sums ORDER BY stream_id`,
    );
    const handled = await db.query<{ event_id: string; n: number }>(
      `SELECT event_id, n FROM ${this.table}_handled ORDER BY seq`,
    );
    return {
      sums: Object.fromEntries(
        sums.map((r) => [r.stream_id, { total: Number(r.total), events: r.events }]),
      ),
      handled: handled.map((r) => r.event_id),
      doubles: handled.filter((r) => r.n !== 1).length,
    };
  }
}

/** The amount in a test event's data. */
export function amountOf(event: RecordedEvent): number {
  return (event.data as { amount?: number }).amount ?? 0;
}

/** The read model a fresh projection over `events` would hold. */
export function freshSums(events: readonly RecordedEvent[]) {
  const sums: Record<string, { total: number; events: number }> = {};
  for (const event of events) {
    const row = (sums[event.streamId] ??= { total: 0, events: 0 });
    row.total += amountOf(event);
    row.events += 1;
  }
  return { sums, handled: events.map((e) => e.id), doubles: 0 };
}

/** The whole log, in order. */
export async function readLog(store: EventStore, after?: Position): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after, limit: 1000 });
    events.push(...page.events);
    after = page.next;
    if (page.isEnd) return events;
  }
}

/**
 * `clients` concurrent writers, each appending `perClient` events one append at a time. Returns
 * the position of the last committed append: a head read while some other transaction is open
 * (a projection's batch) may lag behind it.
 */
export async function appendConcurrently(
  store: EventStore,
  clients: number,
  perClient: number,
  tag = 'w',
): Promise<Position> {
  let last: Position | undefined;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; i < perClient; i++) {
        const { position } = await store.append([
          {
            streamId: streamId(`acct-${tag}-${client}-${i % 5}`),
            expected: ExpectedVersion.any,
            events: [testEvent('Deposited', { amount: client * 1000 + i + 1 })],
          },
        ]);
        if (last === undefined || store.comparePositions(position, last) > 0) last = position;
      }
    }),
  );
  return last!;
}

/** Polls `condition` until it holds; fails after `ms` (a bound on a hang, not a duration assertion). */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
