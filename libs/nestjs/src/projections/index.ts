export * from './projection.decorator';
export * from './projection.host';
export * from './process-manager.host';
export * from './projection.registry';
export * from './event-subscriptions';
export * from './projections.health';
export {
  LogHoldBackMonitor,
  type LogHoldBackOptions,
  type LogHoldBackStatus,
} from './log-hold-back.monitor';
