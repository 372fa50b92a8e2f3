import type { EventStore } from './event-store';
import type { StreamId } from './stream-id';

/** What {@link StreamArchiving.archiveStream} did. */
export interface ArchiveStreamResult {
  readonly streamId: StreamId;
  /** Events moved out of the hot set by this call (0 when the stream was archived already). */
  readonly archivedEvents: number;
  /** The stream was archived before this call (archiving is idempotent). */
  readonly alreadyArchived: boolean;
}

/**
 * A store that can archive finished streams: their events leave the hot set (on PostgreSQL, the
 * hot partition) but stay in the log — `readStreams`, `readAll` (unless a reader opts out with
 * `filter.includeArchived: false`), `read` and append conditions still see them — and every later
 * append that writes to the stream fails with `StreamArchivedError`. Guards (writes without events)
 * on an archived stream still pass: its version no longer moves.
 */
export interface StreamArchiving {
  /**
   * Archives `streamId`, atomically with respect to appends on it.
   * @throws ArchiveRefusedError when the stream has no event, or (PostgreSQL) a projection whose
   *   checkpoint the store keeps has not yet processed the stream's last event.
   */
  archiveStream(streamId: StreamId): Promise<ArchiveStreamResult>;
}

/** True when `store` implements {@link StreamArchiving}. */
export function supportsArchiving(store: EventStore): store is EventStore & StreamArchiving {
  return typeof (store as Partial<StreamArchiving>).archiveStream === 'function';
}
