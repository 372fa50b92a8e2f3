export * from './checkpoint-store';
export * from './projection-lock';
export * from './projection.types';
export * from './projection-worker';
