import { Inject } from '@nestjs/common';
import { EVENTCORE_EVENT_TYPES } from './eventcore.constants';

/**
 * Injects the module's `EventTypeRegistry` (its `events` option, or an empty one), e.g. to upcast
 * events read straight from the store the way commands and projections see them.
 */
export const InjectEventTypes = (): ParameterDecorator & PropertyDecorator =>
  Inject(EVENTCORE_EVENT_TYPES);
