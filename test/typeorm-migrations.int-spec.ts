import 'reflect-metadata';
import { ExpectedVersion, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { createPostgresEventStore, CURRENT_SCHEMA_VERSION } from '@eventcore/postgres';
import { DataSource } from 'typeorm';
import { EVENTCORE_MIGRATIONS } from '@eventcore/postgres/migrations';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';

/** The TypeORM migrations of `@eventcore/postgres/migrations`, run the way the TypeORM CLI runs them. */
describeWithServer('TypeORM migrations (server)', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  const schema = 'typeorm_migrated';

  beforeAll(async () => {
    database = await createTestDatabase();
    process.env.EVENTCORE_SCHEMA = schema;
    dataSource = new DataSource({
      type: 'postgres',
      url: database.url,
      migrations: EVENTCORE_MIGRATIONS,
      migrationsTableName: 'eventcore_typeorm_migrations',
    });
    await dataSource.initialize();
  });

  afterAll(async () => {
    delete process.env.EVENTCORE_SCHEMA;
    await dataSource?.destroy();
    await database?.drop();
  });

  const versions = async () =>
    (
      (await dataSource.query(`SELECT version FROM ${schema}.schema_version ORDER BY 1`)) as {
        version: number;
      }[]
    ).map((r) => Number(r.version));

  it('builds the schema migrate() builds: a store on it appends and reads without migrating', async () => {
    const ran = await dataSource.runMigrations();
    expect(ran).toHaveLength(EVENTCORE_MIGRATIONS.length);
    expect(await versions()).toEqual(EVENTCORE_MIGRATIONS.map((_, i) => i + 1));
    expect(Math.max(...(await versions()))).toBe(CURRENT_SCHEMA_VERSION);

    const store = await createPostgresEventStore({
      connectionString: database.url,
      schema,
      migrate: false,
    });
    try {
      const id = streamId('migrated-1');
      await store.append([
        { streamId: id, expected: ExpectedVersion.noStream, events: [testEvent('E')] },
      ]);
      expect((await store.readStreams([id])).versions.get(id)).toBe(1);
      // migrate() sees TypeORM's work and has nothing left to do.
      await expect(store.migrate()).resolves.toBe(CURRENT_SCHEMA_VERSION);
    } finally {
      await store.close();
    }
  });

  it('undoes the latest version, and runs it again', async () => {
    await dataSource.undoLastMigration();
    expect(await versions()).toEqual(EVENTCORE_MIGRATIONS.slice(0, -1).map((_, i) => i + 1));
    // Version 8: the archiving function and the streams' archive mark.
    const [archiving] = (await dataSource.query(
      `SELECT to_regprocedure('${schema}.archive_stream_v8(text)') IS NULL AS gone,
              NOT EXISTS (SELECT FROM information_schema.columns
                           WHERE table_schema = '${schema}' AND table_name = 'streams'
                             AND column_name = 'archived_at') AS unmarked`,
    )) as { gone: boolean; unmarked: boolean }[];
    expect(archiving).toEqual({ gone: true, unmarked: true });
    expect(await dataSource.runMigrations()).toHaveLength(1);
    expect(Math.max(...(await versions()))).toBe(CURRENT_SCHEMA_VERSION);
  });
});
