/** Injection token of the console's resolved options. */
export const CONSOLE_OPTIONS = 'EVENTCORE:CONSOLE_OPTIONS';
/** Injection token of the application's own guard, when `guard` is configured. */
export const CONSOLE_APP_GUARD = 'EVENTCORE:CONSOLE_APP_GUARD';
/** Injection token of the token sign-in sessions (null without `token`). */
export const CONSOLE_SESSIONS = 'EVENTCORE:CONSOLE_SESSIONS';
/** Injection token of the console's `EventStoreInspection` (null when there is none). */
export const CONSOLE_INSPECTION = 'EVENTCORE:CONSOLE_INSPECTION';
