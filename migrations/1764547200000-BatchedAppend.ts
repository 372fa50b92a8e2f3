import type { MigrationInterface, QueryRunner } from 'typeorm';
import { recordVersionSql, SCHEMA_MIGRATIONS } from '../libs/postgres/src/schema/migrations';

const migration = SCHEMA_MIGRATIONS.find((m) => m.version === 5)!;

/**
 * Version 5 of the schema: `append_batch_v5`, which writes several independent appends in one call
 * (concurrent commands of one process share a round trip and a WAL flush). Tables are unchanged;
 * `append_events_v4` stays for a rolling upgrade. Runs the statements `migrate()` runs and records
 * the version, like the others. Schema: `EVENTCORE_SCHEMA`, default `eventcore`.
 */
export class BatchedAppend1764547200000 implements MigrationInterface {
  name = 'BatchedAppend1764547200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = eventStoreSchema();
    for (const statement of migration.up(schema)) await queryRunner.query(statement);
    await queryRunner.query(recordVersionSql(schema), [migration.version, migration.name]);
  }

  /** Drops the version 5 function. */
  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of migration.down(eventStoreSchema())) await queryRunner.query(statement);
  }
}

function eventStoreSchema(): string {
  return process.env.EVENTCORE_SCHEMA ?? 'eventcore';
}
