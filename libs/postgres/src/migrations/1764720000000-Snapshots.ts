import { EventCoreMigration } from './eventcore-migration';

/**
 * Version 7 of the schema: the `snapshots` table of persisted command states. No table is
 * rewritten; version 6 stays for a rolling upgrade.
 * `down`: drops the table (snapshots are a cache; commands fold their events instead).
 */
export class Snapshots1764720000000 extends EventCoreMigration {
  name = 'Snapshots1764720000000';

  constructor() {
    super(7);
  }
}
