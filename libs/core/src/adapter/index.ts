/**
 * @eventcore/core/adapter — helpers for authors of event stores and checkpoint stores (what
 * @eventcore/postgres uses), kept out of the main barrel: applications never need them, and they
 * may change with the store contract.
 */
export {
  validateWrites,
  encodeJson,
  findConflicts,
  MAX_TAGS_PER_EVENT,
} from '../store/append-validation';
export {
  validateQuery,
  validateReadOptions,
  validateCondition,
  compileQuery,
  tagProblem,
  MAX_READ_LIMIT,
} from '../store/event-query.validation';
export { streamOfUnstreamedEvent, UNSTREAMED_PREFIX } from '../store/event-query';
export { satisfies } from '../store/expected-version';
export { compileFilter } from '../memory/in-memory.event-store';
export { JSON_ENCODING } from '../events/event-serializer';
export { toDeadLetter } from '../projection/checkpoint-store';
export { systemClock } from '../command/clock';
export {
  backoffDelay,
  resolveRetryOptions,
  type ResolvedRetryOptions,
  type RetryUse,
} from '../command/retry-options';
export {
  checkKeep,
  checkSnapshot,
  checkSnapshotKey,
  checkSnapshotScope,
} from '../snapshot/snapshot-store';
