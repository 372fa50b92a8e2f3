import type { MigrationInterface, QueryRunner } from 'typeorm';
import { recordVersionSql, SCHEMA_MIGRATIONS } from '../libs/postgres/src/schema/migrations';

const migration = SCHEMA_MIGRATIONS.find((m) => m.version === 1)!;

/**
 * Version 1 of the event store's schema: events, streams, the immutability trigger and the append
 * function. Runs the very statements `migrate()` runs (they live in libs/postgres so that the
 * library needs no TypeORM at run time) and records the version in `<schema>.schema_version`, so
 * either path sees the other's work. Schema: `EVENTCORE_SCHEMA`, default `eventcore`.
 */
export class EventStoreSchema1764201600000 implements MigrationInterface {
  name = 'EventStoreSchema1764201600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = eventStoreSchema();
    for (const statement of migration.up(schema)) await queryRunner.query(statement);
    await queryRunner.query(recordVersionSql(schema), [migration.version, migration.name]);
  }

  /** Drops every event: for development databases only. */
  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of migration.down(eventStoreSchema())) await queryRunner.query(statement);
  }
}

function eventStoreSchema(): string {
  return process.env.EVENTCORE_SCHEMA ?? 'eventcore';
}
