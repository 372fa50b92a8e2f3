export * from './eventcore-health.module';
