import { EventCoreMigration } from './eventcore-migration';

/**
 * Version 6 of the schema: DCB tags — `events.tags`, the `event_tags` index table, an index on
 * (type, position), `append_batch_v6` (stream appends with tags and shared DCB locks) and
 * `append_dcb_v6` (appends with a condition or stream-less events). No table is rewritten; version
 * 5 stays for a rolling upgrade.
 * `down`: drops them; refused while any event has a tag.
 */
export class DcbTags1764633600000 extends EventCoreMigration {
  name = 'DcbTags1764633600000';

  constructor() {
    super(6);
  }
}
