export * from './eventcore-exception.filter';
export * from './validation.pipe';
export * from './request-metadata';
export * from './command-response';
