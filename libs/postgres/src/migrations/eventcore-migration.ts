import type { MigrationInterface, QueryRunner } from 'typeorm';
import { recordVersionSql, SCHEMA_MIGRATIONS } from '../schema/migrations';

/**
 * One version of the event store's schema as a TypeORM migration. It runs the very statements
 * `migrate()` runs (they live in the package's main entry point so that it needs no TypeORM at run time)
 * and records the version in `<schema>.schema_version`, so either path sees the other's work.
 * Schema: `EVENTCORE_SCHEMA`, default `eventcore`.
 */
export abstract class EventCoreMigration implements MigrationInterface {
  /** TypeORM's record of the migration: `<Name><timestamp>`. */
  abstract readonly name: string;

  protected constructor(private readonly version: number) {}

  async up(queryRunner: QueryRunner): Promise<void> {
    const migration = this.migration();
    const schema = eventStoreSchema();
    for (const statement of migration.up(schema)) await queryRunner.query(statement);
    await queryRunner.query(recordVersionSql(schema), [migration.version, migration.name]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of this.migration().down(eventStoreSchema())) {
      await queryRunner.query(statement);
    }
  }

  private migration() {
    const migration = SCHEMA_MIGRATIONS.find((m) => m.version === this.version);
    if (migration === undefined) throw new Error(`no schema version ${this.version}`);
    return migration;
  }
}

function eventStoreSchema(): string {
  return process.env.EVENTCORE_SCHEMA ?? 'eventcore';
}
