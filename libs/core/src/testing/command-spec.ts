import { AssertionError, deepStrictEqual } from 'node:assert/strict';
import {
  CommandExecutor,
  type ExecuteOptions,
  type ExecutorOptions,
} from '../command/command-executor';
import type { CommandLogic } from '../command/command-logic';
import type { CommandResult } from '../command/command-result';
import { type ErrorCode, isEventCoreError } from '../errors';
import type { DomainEvent, EventToAppend } from '../events/event';
import { newEventId } from '../events/event-id';
import type { EventTypeRegistry } from '../events/event-type-registry';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { ExpectedVersion } from '../store/expected-version';
import { streamId } from '../store/stream-id';
import { ManualClock } from './manual-clock';

/** An event of a {@link StreamHistory}: a domain event, optionally with its schema version. */
export interface HistoryEvent<Type extends string = string, Data = unknown> extends DomainEvent<
  Type,
  Data
> {
  /**
   * In a history: the schema version the event is stored at, so `data` of an older shape goes
   * through the upcasters as stored events do. In an expectation (`then`): the version the command
   * must have written. @default the type's current version in the `events` registry (1 without one)
   */
  readonly schemaVersion?: number;
}

/** Events per stream id, oldest first: `{ 'account-1': [{ type: 'AccountOpened', data: {...} }] }`. */
export type StreamHistory = Readonly<Record<string, readonly HistoryEvent[]>>;

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Starts a given/when/then specification of a command: `await given(history).when(command).then(expected)`.
 * It runs the real executor (validation, discovery, boundary checks) over a private in-memory store
 * seeded with `history`; no Nest and no database needed. Assertions throw Node's AssertionError,
 * so it works in any test runner.
 *
 * With event types in `options.events`, history events are stored at their type's current schema
 * version (and with its serializer) unless they name an older `schemaVersion`, and are upcast on
 * read as in production.
 */
export function given(
  history: StreamHistory = {},
  options: ExecutorOptions = {},
): CommandSpecification {
  return new CommandSpecification(history, options);
}

/** The "given" part of a command specification. */
export class CommandSpecification {
  constructor(
    private readonly history: StreamHistory,
    private readonly options: ExecutorOptions,
  ) {}

  /** The command under test, with optional execution options (metadata, idempotency key). */
  when<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options?: ExecuteOptions,
  ): CommandOutcome {
    return new CommandOutcome(this.run(command, options));
  }

  private async run<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options?: ExecuteOptions,
  ): Promise<CommandResult> {
    const store = new InMemoryEventStore();
    const clock = this.options.clock ?? new ManualClock();
    for (const [id, events] of Object.entries(this.history)) {
      if (events.length === 0) continue;
      await store.append([
        {
          streamId: streamId(id),
          expected: ExpectedVersion.any,
          events: events.map((event): EventToAppend => ({
            id: newEventId(),
            type: event.type,
            ...storedForm(event, this.options.events),
            metadata: { correlationId: 'given', causationId: 'given', userId: null, custom: {} },
            occurredAt: clock.now().toISOString(),
          })),
        },
      ]);
    }
    const executor = new CommandExecutor(store, {
      ...this.options,
      clock,
      sleep: this.options.sleep ?? (async () => undefined),
    });
    return executor.execute(command, options);
  }
}

/** The "then" part: what the command must have written, or how it must have failed. */
export class CommandOutcome {
  constructor(private readonly outcome: Promise<CommandResult>) {
    outcome.catch(() => undefined); // the assertion method reports the error
  }

  /**
   * Asserts the command wrote exactly these events (type and data, in order) and nothing else.
   *
   * Awaiting the outcome itself (`await given().when(command)`, no assertion) rejects at once
   * with an AssertionError that names the assertions to call: `await` calls `then(resolve,
   * reject)`, and without this check would wait forever for an expectation that never comes.
   */
  then(expected: StreamHistory): Promise<CommandResult> {
    if (typeof expected === 'function') {
      // eslint-disable-next-line prefer-rest-params -- await's reject callback, absent from the public signature
      const reject = arguments[1] as unknown;
      const error = new AssertionError({
        message:
          'A command outcome was awaited without an assertion: call .then(expected), .thenNothing() or .thenFails(error) on it',
      });
      if (typeof reject === 'function') reject(error);
      const refused = Promise.reject(error);
      refused.catch(() => undefined); // already reported through `reject`
      return refused;
    }
    return this.wrote(expected);
  }

  private async wrote(expected: StreamHistory): Promise<CommandResult> {
    const result = await this.outcome.catch((error: unknown) => {
      throw new AssertionError({
        message: `Expected events, but the command failed: ${describe(error)}`,
      });
    });
    const actual: Record<string, HistoryEvent[]> = {};
    for (const event of result.events) {
      const list = (actual[event.streamId] ??= []);
      // The written schema version is compared only where the expectation names one.
      const versioned = expected[event.streamId]?.[list.length]?.schemaVersion !== undefined;
      list.push(
        versioned
          ? { type: event.type, data: event.data, schemaVersion: event.schemaVersion }
          : { type: event.type, data: event.data },
      );
    }
    const wanted = Object.fromEntries(
      Object.entries(expected).filter(([, events]) => events.length > 0),
    );
    deepStrictEqual(actual, wanted, 'The command wrote other events than expected');
    return result;
  }

  /** Asserts the command wrote nothing. */
  thenNothing(): Promise<CommandResult> {
    return this.then({});
  }

  /**
   * Asserts the command failed with this error class or EventCore code (and message, if given).
   * Returns the error for further checks (e.g. a business rule's `rule`).
   */
  async thenFails(expected: ErrorClass | ErrorCode, message?: string | RegExp): Promise<Error> {
    let error: unknown;
    try {
      const result = await this.outcome;
      throw new AssertionError({
        message: `Expected a failure, but the command wrote ${result.events.length} event(s)`,
      });
    } catch (caught) {
      if (caught instanceof AssertionError) throw caught;
      error = caught;
    }
    const matches =
      typeof expected === 'string' ? isEventCoreError(error, expected) : error instanceof expected;
    if (!matches) {
      const name = typeof expected === 'string' ? expected : expected.name;
      throw new AssertionError({ message: `Expected ${name}, but got ${describe(error)}` });
    }
    const text = (error as Error).message;
    if (
      message !== undefined &&
      !(typeof message === 'string' ? text.includes(message) : message.test(text))
    ) {
      throw new AssertionError({
        message: `Error message "${text}" does not match ${String(message)}`,
      });
    }
    return error as Error;
  }
}

/**
 * How a history event is stored: at its `schemaVersion`, by default the type's current one, when
 * `data` is encoded with the type's serializer (older versions are stored as the JSON given).
 * @internal shared with projectEvents
 */
export function storedForm(
  event: HistoryEvent,
  registry: EventTypeRegistry | undefined,
): Pick<EventToAppend, 'data' | 'schemaVersion' | 'encoding'> {
  const current = registry?.currentVersion(event.type) ?? 1;
  const schemaVersion = event.schemaVersion ?? current;
  if (registry === undefined || schemaVersion !== current) {
    return { data: event.data, schemaVersion };
  }
  const { data, encoding } = registry.encode(event.type, event.data);
  return encoding === undefined ? { data, schemaVersion } : { data, schemaVersion, encoding };
}

function describe(error: unknown): string {
  if (isEventCoreError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
