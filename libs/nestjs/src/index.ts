/** @eventcore/nestjs — EventCoreModule, CommandBus, projections, subscriptions, health indicators. Never imports a database driver. */
export * from './eventcore.constants';
export * from './eventcore-module.options';
export { EVENTCORE_MODULE_OPTIONS } from './eventcore.module-definition';
export * from './eventcore.module';
export * from './command-bus';
export * from './inject-event-store.decorator';
export * from './inject-event-types.decorator';
export * from './event-store.health';
export * from './health';
export * from './projections';
export * from './http';
export * from './dcb';
export * from './console';
export * from './tenancy';
