import { EventCoreMigration } from './eventcore-migration';

/**
 * Version 5 of the schema: `append_batch_v5`, which writes several independent appends in one call
 * (concurrent commands of one process share a round trip and a WAL flush). Tables are unchanged;
 * `append_events_v4` stays for a rolling upgrade.
 * `down`: drops the version 5 function.
 */
export class BatchedAppend1764547200000 extends EventCoreMigration {
  name = 'BatchedAppend1764547200000';

  constructor() {
    super(5);
  }
}
