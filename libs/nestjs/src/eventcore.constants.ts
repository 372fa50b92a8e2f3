/** Injection token of the {@link EventStore} the module uses. Prefer `@InjectEventStore()`. */
export const EVENTCORE_EVENT_STORE = 'EVENTCORE:EVENT_STORE';
/** Injection token of the core `CommandExecutor`. */
export const EVENTCORE_COMMAND_EXECUTOR = 'EVENTCORE:COMMAND_EXECUTOR';
