export * from './command-telemetry';
