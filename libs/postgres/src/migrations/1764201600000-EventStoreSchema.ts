import { EventCoreMigration } from './eventcore-migration';

/**
 * Version 1 of the event store's schema: events, streams, the immutability trigger and the append
 * function.
 * `down`: drops every event: for development databases only.
 */
export class EventStoreSchema1764201600000 extends EventCoreMigration {
  name = 'EventStoreSchema1764201600000';

  constructor() {
    super(1);
  }
}
