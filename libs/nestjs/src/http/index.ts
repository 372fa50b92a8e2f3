export * from './eventcore-exception.filter';
export * from './validation.pipe';
export * from './request-metadata';
export * from './problem-details';
export { type RequestLimits, problem } from './request-limits';
export * from './admin-token.guard';
export * from './command-response';
