/**
 * @eventcore/core — the command model, executor, event-store port and in-memory store.
 * No NestJS, no database driver: this package runs anywhere Node.js does.
 */
export * from './errors';
export * from './events/event';
export * from './events/event-id';
export * from './events/event-type-registry';
export * from './events/event-serializer';
export * from './store/stream-id';
export * from './store/expected-version';
export * from './store/event-store';
export { validateWrites, encodeJson, findConflicts } from './store/append-validation';
export * from './command/command.decorators';
export * from './command/command-logic';
export * from './command/command-result';
export * from './command/retry-policy';
export * from './command/clock';
export {
  CommandExecutor,
  type ExecutorOptions,
  type ExecuteOptions,
} from './command/command-executor';
export { IDEMPOTENCY_RECORD_TYPE } from './command/idempotency';
export {
  InMemoryEventStore,
  type InMemoryEventStoreOptions,
  compileFilter,
} from './memory/in-memory.event-store';
export * from './projection';
export * from './process';
export * from './telemetry';
