export * from './eventcore.error';
export * from './error-messages';
export * from './store.errors';
export * from './command.errors';
export * from './projection.errors';
export * from './event.errors';
