/**
 * @jest-environment ./libs/postgres/src/testing/pglite.jest-environment.ts
 */
import type { PGlite } from '@electric-sql/pglite';
import { ExpectedVersion, StreamArchivedError, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { PGliteSqlExecutor } from './executor/pglite.sql-executor';
import { createPGliteEventStore } from './postgres.factory';
import { convertEventsToPartitioned } from './schema/partition-conversion';
import { SCHEMA_MIGRATIONS } from './schema/migrations';
import { loadPGlite } from './testing/pglite.testing';

let db: PGlite;

beforeAll(async () => {
  db = await loadPGlite().create();
});

afterAll(async () => {
  await db.close();
});

describe('Converting an embedded store to partitions (PGlite)', () => {
  it('converts a store that had events before version 8, which then archives into its partition', async () => {
    for (const migration of SCHEMA_MIGRATIONS.filter((m) => m.version < 8)) {
      for (const statement of migration.up('embedded')) await db.exec(statement);
    }
    await db.exec(
      `INSERT INTO embedded.events (global_position, stream_id, stream_version, event_id, type, data, metadata, occurred_at)
       SELECT nextval('embedded.events_position_seq'), 'old-' || (n % 3), n / 3 + 1, gen_random_uuid(), 'E', '{}', '{}', now()
         FROM generate_series(0, 29) AS n;
       INSERT INTO embedded.streams (stream_id, version)
       SELECT stream_id, max(stream_version) FROM embedded.events GROUP BY stream_id`,
    );
    const store = await createPGliteEventStore({ db, schema: 'embedded' });
    const result = await convertEventsToPartitioned(new PGliteSqlExecutor(db, false), {
      schema: 'embedded',
      batchSize: 7,
    });
    expect(result).toMatchObject({ phase: 'swapped', copied: 30 });
    const kind = await db.query<{ relkind: string }>(
      `SELECT relkind FROM pg_class WHERE oid = 'embedded.events'::regclass`,
    );
    expect(kind.rows[0]!.relkind).toBe('p');

    const old = streamId('old-1');
    await store.append([
      { streamId: old, expected: ExpectedVersion.exact(10), events: [testEvent('E')] },
    ]);
    await expect(store.archiveStream(old)).resolves.toMatchObject({ archivedEvents: 11 });
    await expect(
      store.append([{ streamId: old, expected: ExpectedVersion.any, events: [testEvent('E')] }]),
    ).rejects.toBeInstanceOf(StreamArchivedError);
    const counts = await db.query<{ hot: number; archived: number }>(
      `SELECT (SELECT count(*)::int FROM embedded.events_hot) AS hot,
              (SELECT count(*)::int FROM embedded.events_archived) AS archived`,
    );
    expect(counts.rows[0]).toEqual({ hot: 20, archived: 11 });
    expect((await store.readAll({ limit: 100 })).events).toHaveLength(31);
    await store.close();
  });
});
