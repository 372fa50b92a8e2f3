/**
 * @eventcore/core — the command model, executor, event-store port and in-memory store.
 * No NestJS, no database driver: this package runs anywhere Node.js does.
 * Helpers for store authors live in `@eventcore/core/adapter`, the testing kit in
 * `@eventcore/core/testing`.
 */
export * from './errors';
export * from './events/event';
export { newEventId } from './events/event-id';
export * from './events/event-type-registry';
export { type EventSerializer, MessagePackSerializer } from './events/event-serializer';
export { type StreamId, streamId } from './store/stream-id';
export { type UnstorableTextReason, unstorableTextReason } from './util/unstorable-text';
export { ExpectedVersion } from './store/expected-version';
export * from './store/event-store';
export * from './store/stream-archive';
export {
  ALL_EVENTS,
  type AppendCondition,
  type AppendOptions,
  type EventQuery,
  type EventQueryReadOptions,
  type EventQueryReadResult,
  type QueryItem,
} from './store/event-query';
export { dcbAppend } from './store/dcb-append';
export { Boundary, Command, Stream, type CommandOptions } from './command/command.decorators';
export { type CoveredEventTypes, item, query, type QueryItemSpec } from './command/boundary-query';
export * from './command/command-logic';
export * from './command/command-result';
export type { RetryOptions } from './command/retry-options';
export type { Clock } from './command/clock';
export {
  CommandExecutor,
  type ExecutorOptions,
  type ExecuteOptions,
} from './command/command-executor';
export { InMemoryEventStore, type InMemoryEventStoreOptions } from './memory/in-memory.event-store';
export {
  type CommandSnapshot,
  JSON_SNAPSHOT_SERIALIZER,
  type SnapshotKey,
  type SnapshotLoad,
  type SnapshotScope,
  type SnapshotStore,
} from './snapshot/snapshot-store';
export type {
  CommandSnapshotOptions,
  SnapshotOptions,
  SnapshotProblem,
} from './snapshot/snapshot-options';
export {
  InMemorySnapshotStore,
  type InMemorySnapshotStoreOptions,
} from './memory/in-memory.snapshot-store';
export * from './projection';
export * from './process';
export { TELEMETRY_SCOPE } from './telemetry';
export type {
  EventStoreInspection,
  FindStreamsOptions,
  LogHead,
  OldestWriteTransaction,
  StreamSummary,
} from './store/store-inspection';
export { InMemoryStoreInspection } from './memory/in-memory.inspection';
