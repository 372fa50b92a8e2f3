import { EventCoreMigration } from './eventcore-migration';

/**
 * Version 8 of the schema: archived streams, and the events table partitioned into hot and
 * archived events. An empty events table is replaced by the partitioned one; a table with events
 * is kept (it gains an `archived` column, without a rewrite) until `convertEventsToPartitioned`
 * converts it. Version 6's append functions stay for a rolling upgrade.
 * `down`: drops the archiving functions; refused while a stream is archived.
 */
export class ArchivedEvents1764806400000 extends EventCoreMigration {
  name = 'ArchivedEvents1764806400000';

  constructor() {
    super(8);
  }
}
