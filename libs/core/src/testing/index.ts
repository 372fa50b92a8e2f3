/**
 * @eventcore/core/testing — helpers for testing EventCore adapters and applications. Kept off the
 * main barrel so production code never pulls in jest or fast-check.
 */
export {
  eventStoreContract,
  testEvent,
  type EventStoreContractOptions,
} from './event-store.contract';
export { dcbContract } from './dcb.contract';
export { archivingContract } from './archiving.contract';
export {
  given,
  CommandSpecification,
  CommandOutcome,
  type EventHistory,
  type HistoryEvent,
  type LoggedEvent,
  type StreamHistory,
} from './command-spec';
export { projectEvents, type ProjectEventsOptions } from './projection-spec';
export {
  stateCacheDifferentialSuite,
  scheduledStore,
  type AppendObserver,
  type StateCacheDifferentialOptions,
} from './state-cache.differential';
export {
  snapshotDifferentialSuite,
  type SnapshotDifferentialOptions,
  type SnapshotStores,
} from './snapshot.differential';
export { FaultyEventStore, type FaultPlan } from './faulty-event-store';
export { ManualClock } from './manual-clock';
export { checkUpcasters, type UpcasterSample } from './upcaster-samples';
export { seededRandom } from './seeded-random';
export {
  streamIdArbitrary,
  jsonDataArbitrary,
  metadataArbitrary,
  eventToAppendArbitrary,
} from './arbitraries';
