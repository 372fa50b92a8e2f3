import { EventCoreMigration } from './eventcore-migration';

/**
 * Version 2 of the schema: projection checkpoints, dead letters and lease rows.
 * `down`: drops every checkpoint: projections then rebuild from zero.
 */
export class ProjectionSchema1764288000000 extends EventCoreMigration {
  name = 'ProjectionSchema1764288000000';

  constructor() {
    super(2);
  }
}
