import type { MigrationInterface, QueryRunner } from 'typeorm';
import { recordVersionSql, SCHEMA_MIGRATIONS } from '../libs/postgres/src/schema/migrations';

const migration = SCHEMA_MIGRATIONS.find((m) => m.version === 2)!;

/**
 * Version 2 of the schema: projection checkpoints, dead letters and lease rows. Runs the statements
 * `migrate()` runs and records the version, like version 1. Schema: `EVENTCORE_SCHEMA`, default
 * `eventcore`.
 */
export class ProjectionSchema1764288000000 implements MigrationInterface {
  name = 'ProjectionSchema1764288000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = eventStoreSchema();
    for (const statement of migration.up(schema)) await queryRunner.query(statement);
    await queryRunner.query(recordVersionSql(schema), [migration.version, migration.name]);
  }

  /** Drops every checkpoint: projections then rebuild from zero. */
  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of migration.down(eventStoreSchema())) await queryRunner.query(statement);
  }
}

function eventStoreSchema(): string {
  return process.env.EVENTCORE_SCHEMA ?? 'eventcore';
}
