import { EventCoreMigration } from './eventcore-migration';

/**
 * Version 3 of the schema: the faster append function `append_events_v3` (events as parallel
 * arrays, one answer row, generic plans, NOTIFY after commit).
 * `down`: drops the version 3 function (the version 1 function is still there).
 */
export class FastAppend1764374400000 extends EventCoreMigration {
  name = 'FastAppend1764374400000';

  constructor() {
    super(3);
  }
}
