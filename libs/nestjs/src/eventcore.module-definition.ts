import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { EventCoreModuleOptions } from './eventcore-module.options';

/** The builder behind `EventCoreModule.forRoot` and `forRootAsync`. Global unless `isGlobal: false`. */
export const {
  ConfigurableModuleClass: ConfigurableEventCoreModule,
  MODULE_OPTIONS_TOKEN: EVENTCORE_MODULE_OPTIONS,
  OPTIONS_TYPE: EVENTCORE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: EVENTCORE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<EventCoreModuleOptions>({ moduleName: 'EventCore' })
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
