import { InvalidOptionsError, type StreamId } from '@eventcore/core';
import { quoted } from './schema/schema-name';

/**
 * Which streams {@link PostgresEventStore.applyRetention} archives: those whose last event was
 * recorded more than `afterDays` days ago and, when `closedBy` is given, is of one of those types
 * (a closed-stream marker such as `AccountClosed`). Without `closedBy`, age alone decides.
 */
export interface RetentionPolicy {
  /** Event types that close a stream for good. @default any type (age alone) */
  readonly closedBy?: readonly string[];
  /** Days since the stream's last event (0 or more). */
  readonly afterDays: number;
  /** Most streams archived by one call, so one call stays short. @default 1000 */
  readonly maxStreams?: number;
}

/** What one retention pass did. */
export interface RetentionResult {
  /** Streams archived by this pass. */
  readonly archived: readonly StreamId[];
  /** Events moved out of the hot set. */
  readonly archivedEvents: number;
  /** Streams due but left hot, because a projection has not processed their last event yet. */
  readonly deferred: readonly { streamId: StreamId; projections: readonly string[] }[];
}

/** Checks `policy`. @throws InvalidOptionsError naming the bad field. */
export function checkRetentionPolicy(policy: RetentionPolicy): Required<RetentionPolicy> {
  const days = policy.afterDays;
  if (typeof days !== 'number' || !Number.isFinite(days) || days < 0) {
    throw new InvalidOptionsError(
      'retention.afterDays',
      `use a number of days, 0 or more, not ${String(days)}`,
    );
  }
  const closedBy = policy.closedBy ?? [];
  if (!Array.isArray(closedBy) || !closedBy.every((t) => typeof t === 'string' && t !== '')) {
    throw new InvalidOptionsError(
      'retention.closedBy',
      'use a list of event types (non-empty strings)',
    );
  }
  const maxStreams = policy.maxStreams ?? 1000;
  if (!Number.isSafeInteger(maxStreams) || maxStreams < 1) {
    throw new InvalidOptionsError(
      'retention.maxStreams',
      `use a positive integer, not ${String(maxStreams)}`,
    );
  }
  return { afterDays: days, closedBy, maxStreams };
}

/**
 * The streams a retention pass archives: not archived yet, last event (by version) recorded before
 * `now() - $2 days` and, when `$1` is not empty, of one of those types; at most `$3`, oldest first.
 * One probe of the `(stream_id, stream_version)` index per stream of the store: a maintenance
 * query, run by hand or on a timer, not on a hot path.
 */
export function retentionCandidatesSql(schema: string): string {
  const s = quoted(schema);
  return `
SELECT st.stream_id FROM ${s}.streams AS st
 CROSS JOIN LATERAL (SELECT e.type, e.recorded_at FROM ${s}.events AS e
                      WHERE e.stream_id = st.stream_id ORDER BY e.stream_version DESC LIMIT 1) AS last
 WHERE st.archived_at IS NULL
   AND (cardinality($1::text[]) = 0 OR last.type = ANY ($1::text[]))
   AND last.recorded_at < now() - make_interval(secs => $2::double precision * 86400)
 ORDER BY last.recorded_at
 LIMIT $3`;
}
