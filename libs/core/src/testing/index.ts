/**
 * @eventcore/core/testing — helpers for testing EventCore adapters and applications. Kept off the
 * main barrel so production code never pulls in jest or fast-check.
 */
export {
  eventStoreContract,
  testEvent,
  type EventStoreContractOptions,
} from './event-store.contract';
