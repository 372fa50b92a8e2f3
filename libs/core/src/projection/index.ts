export {
  type CheckpointStore,
  type DeadLetter,
  InMemoryCheckpointStore,
  atLeastOnce,
} from './checkpoint-store';
export * from './projection-lock';
export * from './projection.types';
export * from './projection-worker';
