/**
 * Every message EventCore puts in an error, in one place, so that tests and users can assert on
 * them and so that wording stays consistent. Each says what happened and what to do.
 */
export const ErrorMessages = {
  invalidStreamId: (value: unknown, reason: string) =>
    `Invalid stream id ${describe(value)}: ${reason}. A stream id is 1–255 characters, used exactly as given (never trimmed): no leading or trailing whitespace, no control characters and none of * ? [ ]; ids starting with "$" are reserved for EventCore.`,
  invalidPosition: (value: unknown) =>
    `Invalid position token ${describe(value)}. Pass a token returned by this event store (a command result or a readAll page), or omit it to start from the beginning.`,
  concurrencyConflict: (streams: string) =>
    `Concurrency conflict on ${streams}: another writer changed the stream since it was read. Nothing was written; re-read and decide again (the command executor does this for you).`,
  invalidQuery: (reason: string) =>
    `Invalid event query: ${reason}. A query is { items: [{ types?: string[], tags?: string[] }, ...] } (no item matches every event); tags are validated like stream ids. Nothing was read or written.`,
  appendConditionFailed: (query: string, after: number | undefined) =>
    `Append condition failed: an event matching ${query} was stored ${after === undefined ? '(the condition allows none)' : `after position ${after}`}. Nothing was written; read again and decide again (the command executor does this for you).`,
  logHeldBack: (waitedMs: number, blocker: string) =>
    `The log is held back: events matching the query have committed, but an older write transaction is still open, so they are not yet in the gap-safe prefix a decision may read. Waited ${waitedMs} ms. ${blocker} Finish or cancel that transaction (set idle_in_transaction_session_timeout on the server), then retry.`,
  uncoveredEvent: (command: string, type: string, tags: readonly string[]) =>
    `Command ${command} emitted "${type}" with tags [${tags.join(', ')}], which its boundary query does not match, so its append condition would not protect it. Widen the query (or the event's tags); nothing was written.`,
  streamArchived: (streams: string) =>
    `Stream ${streams} is archived: it takes no more events. Nothing was written. Archived streams stay readable; a command that must write to one needs a new stream.`,
  archiveRefused: (stream: string, reason: string) =>
    `Stream "${stream}" was not archived: ${reason}. Nothing was changed.`,
  invalidAppend: (reason: string) => `Invalid append: ${reason}. Nothing was written.`,
  unsupportedTransaction: (
    reason: 'written-before-append' | 'isolation' | 'no-transaction' | 'aborted',
    isolation: string | undefined,
  ) =>
    ({
      'written-before-append':
        'Cannot append in this transaction: it has already written (it holds a transaction id), so its events would take positions out of log order. Append first — once per transaction, every stream and event in one call — then write your own tables in the same transaction. Nothing was written by the append; your transaction is open and unchanged.',
      isolation: `Cannot append in a transaction at ${isolation ?? 'this isolation level'}: appends run at READ COMMITTED only, where each step sees what committed before its locks were taken (a REPEATABLE READ or SERIALIZABLE snapshot would check stale versions and conditions). Start the transaction at READ COMMITTED, the default. Nothing was written; your transaction is open and unchanged.`,
      'no-transaction':
        "Cannot append in the caller's transaction: the connection given has none open (a pg client without BEGIN, a TypeORM QueryRunner without startTransaction(), or an EntityManager that is not a transaction's). Begin the transaction first, or use append() for a transaction of the store's own. Nothing was written.",
      aborted:
        "Cannot append in the caller's transaction: it has failed (an earlier statement raised an error) and can only be rolled back. Nothing was written.",
    })[reason],
  eventSerialization: (streamId: string, type: string, reason: string) =>
    `Event "${type}" for stream "${streamId}" cannot be stored as JSON (${reason}). Use plain JSON data (no BigInt, no cycles, no functions); nothing was written.`,
  unstorableText: (streamId: string, type: string, path: string, reason: string) =>
    `Event "${type}" for stream "${streamId}" has ${reason} in ${path}, which no event store can hold (PostgreSQL refuses it in text and jsonb). Refuse such input where it enters your application, or encode the text (e.g. base64); nothing was written.`,
  storableText: (reason: string) =>
    `must not contain ${reason} (the NUL character and unpaired UTF-16 surrogates cannot be stored)`,
  commandValidation: (command: string, failures: string) =>
    `Command ${command} has invalid input: ${failures}. Fix the input and send it again; nothing was read or written.`,
  notACommand: (name: string) =>
    `${name} is not a command: decorate the class with @Command() and give it at least one @Stream() property, a @Boundary() method returning its query, or both.`,
  invalidCommandDefinition: (name: string, reason: string) =>
    `Command ${name} is not usable: ${reason}.`,
  undecoratedCommandProperties: (
    className: string,
    properties: readonly string[],
    functions: readonly string[],
  ) =>
    `class ${className} defines ${properties.map((p) => `"${p}"`).join(', ')} with neither @Stream() nor a class-validator decorator, so input validation would refuse every call ("property ${properties[0]} should not exist"). Decorate ${properties.length === 1 ? 'it' : 'each'} (a rule such as @IsString(), or @Allow() to accept any value), make ${properties.length === 1 ? 'it' : 'them'} non-enumerable, or turn validation off for this command with @Command({ validate: false })${
      functions.length === 0
        ? ''
        : functions.length === 1
          ? `; ${functions[0]} holds a function: define it as a method, not an arrow-function property`
          : `; ${functions.join(', ')} hold functions: define them as methods, not arrow-function properties`
    }`,
  undeclaredStream: (command: string, stream: string) =>
    `Command ${command} tried to write to stream "${stream}", which is not in its consistency boundary. Declare it with @Stream() or discover it with ctx.discover() first; nothing was written.`,
  streamDiscoveryLimit: (command: string, limit: number) =>
    `Command ${command} kept discovering new streams (or widening its query) after ${limit} iterations. Make discovery converge (ask for every stream and query item you need at once) or raise maxDiscoveryIterations.`,
  businessRuleViolation: (command: string, message: string) => `${command} rejected: ${message}`,
  retriesExhausted: (command: string, attempts: number) =>
    `Command ${command} gave up after ${attempts} attempts because of repeated concurrency conflicts (or failed append conditions). Nothing was written by this command; retry later or raise retry.maxAttempts.`,
  commandTimeout: (command: string, timeoutMs: number, outcome: 'not-written' | 'unknown') =>
    outcome === 'not-written'
      ? `Command ${command} timed out after ${timeoutMs} ms; nothing was written. Retry it (with an idempotency key to be safe) or raise retry.timeoutMs.`
      : `Command ${command} timed out after ${timeoutMs} ms while its append was in flight; it may or may not have been written. Retry it with the same idempotency key to find out safely.`,
  idempotencyKeyReuse: (command: string, key: string) =>
    `Idempotency key "${key}" was already used for a different ${command} input. Use a new key for a new request.`,
  invalidOptions: (what: string, reason: string) => `Invalid ${what}: ${reason}.`,
  checkpointMoved: (projection: string) =>
    `The checkpoint of projection "${projection}" was moved by another instance; this instance stops running it. Nothing of its last batch was committed.`,
  projectionNotFound: (name: string, known: string) =>
    `There is no projection named "${name}". Known projections: ${known || 'none'}.`,
  projectionWaitTimeout: (names: string, timeoutMs: number) =>
    `Projections ${names} did not reach the requested position within ${timeoutMs} ms. Read again later, or check their status for a fault or a large lag.`,
  invalidProjection: (name: string, reason: string) =>
    `Projection ${name} is not usable: ${reason}.`,
  projectionNotActive: (name: string, state: string, action: string) =>
    state === 'standby'
      ? `Projection "${name}" cannot be ${action} on this instance: another instance holds its lock and runs it (this one stands by). Nothing was changed; send the request to the instance whose status shows the projection running.`
      : `Projection "${name}" cannot be ${action} on this instance: it is not running here (${state}). Nothing was changed; start it first, or send the request to the instance that runs it.`,
  projectionSetupFailed: (name: string, reason: string) =>
    `The setup step of projection "${name}" failed: ${reason}. The projection is faulted and handled no event; fix the setup (its SQL, the database's permissions) and resume the projection, or restart.`,
  eventDecode: (eventId: string, streamId: string, type: string, version: number, reason: string) =>
    `Event ${eventId} of stream "${streamId}" (type "${type}", stored schema version ${version}) cannot be decoded: ${reason}. Register the missing upcaster or fix the failing one; the event was not used.`,
  storeClosed: () => 'The event store is closed. Create a new store or restart the application.',
  storeUnavailable: (reason: string, outcome: 'not-written' | 'unknown') =>
    `The event store's database is unavailable (${reason}). ${
      outcome === 'unknown'
        ? 'An append was in flight when the connection failed: it may or may not have been written; retry it with an idempotency key to find out safely.'
        : 'Nothing was written.'
    } Check that the database is up and reachable with the configured connection settings; the store recovers by itself once it answers again.`,
  embeddedDatabaseLocked: (dataDir: string, holder: string) =>
    `The embedded database in ${dataDir} is in use by ${holder}; nothing was opened. An embedded (PGlite) database has exactly one owner: stop that process, or give this one its own folder (EVENTCORE_DATA_DIR), or run every instance on a PostgreSQL server (DATABASE_URL). If that process no longer exists (for example its host was renamed or the folder was copied from another machine), delete the folder's eventcore.lock and start again.`,
} as const;

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return `(${value === null ? 'null' : typeof value})`;
}
