import { Inject } from '@nestjs/common';
import { EVENTCORE_EVENT_STORE } from './eventcore.constants';

/** Injects the module's `EventStore` (for reads, such as a balance query). */
export const InjectEventStore = (): ParameterDecorator & PropertyDecorator =>
  Inject(EVENTCORE_EVENT_STORE);
