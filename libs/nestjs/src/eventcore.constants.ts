/** Injection token of the {@link EventStore} the module uses. Prefer `@InjectEventStore()`. */
export const EVENTCORE_EVENT_STORE = 'EVENTCORE:EVENT_STORE';
/** Injection token of the core `CommandExecutor`. */
export const EVENTCORE_COMMAND_EXECUTOR = 'EVENTCORE:COMMAND_EXECUTOR';

/** Injection token of the projections' `CheckpointStore`. */
export const EVENTCORE_CHECKPOINT_STORE = 'EVENTCORE:CHECKPOINT_STORE';

/** Injection token of the `ProjectionLock` that elects one instance per projection. */
export const EVENTCORE_PROJECTION_LOCK = 'EVENTCORE:PROJECTION_LOCK';

/** Metadata key set by `@Projection()`. */
export const EVENTCORE_PROJECTION_METADATA = 'eventcore:projection';

/** Injection token of the `EventTypeRegistry` (schema versions and upcasters). Prefer `@InjectEventTypes()`. */
export const EVENTCORE_EVENT_TYPES = 'EVENTCORE:EVENT_TYPES';
