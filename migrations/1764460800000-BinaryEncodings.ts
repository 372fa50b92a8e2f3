import type { MigrationInterface, QueryRunner } from 'typeorm';
import { recordVersionSql, SCHEMA_MIGRATIONS } from '../libs/postgres/src/schema/migrations';

const migration = SCHEMA_MIGRATIONS.find((m) => m.version === 4)!;

/**
 * Version 4 of the schema: binary encodings. `events` gains `encoding` (default `json`) and
 * `data_bytes`; `data` (jsonb) stays for JSON events and is NULL for binary ones, under a check;
 * `append_events_v4` writes them (version 3 stays for a rolling upgrade). Runs the statements
 * `migrate()` runs and records the version, like the others. Schema: `EVENTCORE_SCHEMA`, default
 * `eventcore`.
 */
export class BinaryEncodings1764460800000 implements MigrationInterface {
  name = 'BinaryEncodings1764460800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const schema = eventStoreSchema();
    for (const statement of migration.up(schema)) await queryRunner.query(statement);
    await queryRunner.query(recordVersionSql(schema), [migration.version, migration.name]);
  }

  /** Drops the version 4 function and columns; refused while binary events are stored. */
  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of migration.down(eventStoreSchema())) await queryRunner.query(statement);
  }
}

function eventStoreSchema(): string {
  return process.env.EVENTCORE_SCHEMA ?? 'eventcore';
}
