import { EventCoreMigration } from './eventcore-migration';

/**
 * Version 4 of the schema: binary encodings. `events` gains `encoding` (default `json`) and
 * `data_bytes`; `data` (jsonb) stays for JSON events and is NULL for binary ones, under a check;
 * `append_events_v4` writes them (version 3 stays for a rolling upgrade).
 * `down`: drops the version 4 function and columns; refused while binary events are stored.
 */
export class BinaryEncodings1764460800000 extends EventCoreMigration {
  name = 'BinaryEncodings1764460800000';

  constructor() {
    super(4);
  }
}
