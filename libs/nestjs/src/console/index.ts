export { EventCoreConsoleModule } from './console.module';
export type { EventCoreConsoleOptions } from './console.options';
