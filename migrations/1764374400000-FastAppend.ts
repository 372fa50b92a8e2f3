import type { MigrationInterface, QueryRunner } from 'typeorm';
import { recordVersionSql, SCHEMA_MIGRATIONS } from '../libs/postgres/src/schema/migrations';

const migration = SCHEMA_MIGRATIONS.find((m) => m.version === 3)!;

/**
 * Version 3 of the schema: the faster append function `append_events_v3` (events as parallel
 * arrays, one answer row, generic plans, NOTIFY after commit). Runs the statements `migrate()` runs
 * and records the version, like the others. Schema: `EVENTCORE_SCHEMA`, default `eventcore`.
 */
export class FastAppend1764374400000 implements MigrationInterface {
  name = 'FastAppend1764374400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = eventStoreSchema();
    for (const statement of migration.up(schema)) await queryRunner.query(statement);
    await queryRunner.query(recordVersionSql(schema), [migration.version, migration.name]);
  }

  /** Drops the version 3 function (the version 1 function is still there). */
  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of migration.down(eventStoreSchema())) await queryRunner.query(statement);
  }
}

function eventStoreSchema(): string {
  return process.env.EVENTCORE_SCHEMA ?? 'eventcore';
}
