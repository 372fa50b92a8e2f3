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
import { UNSTREAMED_PREFIX } from '../store/event-query';
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
  /**
   * DCB tags. In a history: stored with the event. In an expectation: the tags the command must
   * have written — compared always in an {@link EventHistory}, and in a {@link StreamHistory}
   * where given. @default none
   */
  readonly tags?: readonly string[];
}

/** Events per stream id, oldest first: `{ 'account-1': [{ type: 'AccountOpened', data: {...} }] }`. */
export type StreamHistory = Readonly<Record<string, readonly HistoryEvent[]>>;

/** An event of an {@link EventHistory}: in the stream `streamId` when given, else in no stream. */
export interface LoggedEvent<Type extends string = string, Data = unknown> extends HistoryEvent<
  Type,
  Data
> {
  /** The stream the event is (to be) in; none: an event in no stream. */
  readonly streamId?: string;
}

/**
 * Events in log order, for commands with a boundary query (DCB): each in no stream unless it names
 * one, e.g. `[{ type: 'CourseDefined', data: {...}, tags: ['course:c1'] }]`. As an expectation
 * (`then`), every event the command wrote, in order, with its tags (`[]` when it names none) and
 * its stream (none when it names none).
 */
export type EventHistory = readonly LoggedEvent[];

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Starts a given/when/then specification of a command: `await given(history).when(command).then(expected)`.
 * It runs the real executor (validation, discovery, boundary checks, append conditions) over a
 * private in-memory store seeded with `history`; no Nest and no database needed. Assertions throw
 * Node's AssertionError, so it works in any test runner.
 *
 * `history` is events per stream ({@link StreamHistory}), or, for commands with a boundary query,
 * events in log order with their tags ({@link EventHistory}); the command's query read and its
 * append condition see them as they would see stored events.
 *
 * With event types in `options.events`, history events are stored at their type's current schema
 * version (and with its serializer) unless they name an older `schemaVersion`, and are upcast on
 * read as in production.
 */
export function given(
  history: StreamHistory | EventHistory = {},
  options: ExecutorOptions = {},
): CommandSpecification {
  return new CommandSpecification(history, options);
}

/** The "given" part of a command specification. */
export class CommandSpecification {
  constructor(
    private readonly history: StreamHistory | EventHistory,
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
    const toAppend = (event: HistoryEvent): EventToAppend => ({
      id: newEventId(),
      type: event.type,
      ...storedForm(event, this.options.events),
      metadata: { correlationId: 'given', causationId: 'given', userId: null, custom: {} },
      occurredAt: clock.now().toISOString(),
      ...(event.tags === undefined ? {} : { tags: event.tags }),
    });
    if (isEventHistory(this.history)) {
      // One append per event keeps the log order of the list, streams and no stream interleaved.
      for (const event of this.history) {
        if (event.streamId === undefined) {
          await store.append([], { events: [toAppend(event)] });
        } else {
          const id = streamId(event.streamId);
          await store.append([
            { streamId: id, expected: ExpectedVersion.any, events: [toAppend(event)] },
          ]);
        }
      }
    } else {
      for (const [id, events] of Object.entries(this.history)) {
        if (events.length === 0) continue;
        await store.append([
          { streamId: streamId(id), expected: ExpectedVersion.any, events: events.map(toAppend) },
        ]);
      }
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
   * Asserts the command wrote exactly these events and nothing else: per stream, their type and
   * data in order ({@link StreamHistory}; tags and schema versions where the expectation names
   * them); or, as a list ({@link EventHistory}), every event in order with its type, data, tags
   * and stream (for a command with a boundary query).
   *
   * Awaiting the outcome itself (`await given().when(command)`, no assertion) rejects at once
   * with an AssertionError that names the assertions to call: `await` calls `then(resolve,
   * reject)`, and without this check would wait forever for an expectation that never comes.
   */
  then(expected: StreamHistory | EventHistory): Promise<CommandResult> {
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

  private async wrote(expected: StreamHistory | EventHistory): Promise<CommandResult> {
    const result = await this.outcome.catch((error: unknown) => {
      throw new AssertionError({
        message: `Expected events, but the command failed: ${describe(error)}`,
      });
    });
    if (isEventHistory(expected)) {
      const actual = result.events.map((event, i): LoggedEvent => {
        const inStream = !event.streamId.startsWith(UNSTREAMED_PREFIX);
        return {
          ...(inStream ? { streamId: event.streamId } : {}),
          type: event.type,
          data: event.data,
          tags: event.tags,
          ...(expected[i]?.schemaVersion === undefined
            ? {}
            : { schemaVersion: event.schemaVersion }),
        };
      });
      const wanted = expected.map((event): LoggedEvent => ({
        ...(event.streamId === undefined ? {} : { streamId: event.streamId }),
        type: event.type,
        data: event.data,
        tags: event.tags ?? [],
        ...(event.schemaVersion === undefined ? {} : { schemaVersion: event.schemaVersion }),
      }));
      deepStrictEqual(actual, wanted, 'The command wrote other events than expected');
      return result;
    }
    const actual: Record<string, HistoryEvent[]> = {};
    for (const event of result.events) {
      const list = (actual[event.streamId] ??= []);
      // The written schema version and tags are compared only where the expectation names them.
      const named = expected[event.streamId]?.[list.length];
      list.push({
        type: event.type,
        data: event.data,
        ...(named?.schemaVersion === undefined ? {} : { schemaVersion: event.schemaVersion }),
        ...(named?.tags === undefined ? {} : { tags: event.tags }),
      });
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

function isEventHistory(history: StreamHistory | EventHistory): history is EventHistory {
  return Array.isArray(history);
}

function describe(error: unknown): string {
  if (isEventCoreError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
