import type { DomainEvent, EventMetadata, EventToAppend, RecordedEvent } from '../events/event';
import { newEventId } from '../events/event-id';
import type { EventTypeRegistry } from '../events/event-type-registry';
import {
  CommandTimeoutError,
  ConcurrencyConflictError,
  InvalidCommandError,
  InvalidOptionsError,
  RetriesExhaustedError,
  StreamDiscoveryLimitError,
} from '../errors';
import type { EventStore, ReadStreamsResult, StreamWrite } from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import type { StreamId } from '../store/stream-id';
import { type Clock, systemClock } from './clock';
import { commandDefinition, type CommandDefinition, declaredStreams } from './command-definition';
import type { CommandLogic } from './command-logic';
import type { CommandResult } from './command-result';
import {
  DecisionContext,
  DiscoveryRequest,
  type EmittedEvent,
  eventMetadata,
} from './decision-context';
import {
  commandFingerprint,
  IDEMPOTENCY_RECORD_TYPE,
  idempotencyStream,
  type IdempotencyRecord,
  replayResult,
} from './idempotency';
import { backoffDelay, resolveRetryPolicy, type RetryPolicy } from './retry-policy';
import { validateCommand } from './validate-command';

/** Defaults for every command run by one executor (a module's `executor` options). */
export interface ExecutorOptions {
  /** Retry policy defaults; a command's `@Command({ retry })` and the call's options override them. */
  readonly retry?: Partial<RetryPolicy>;
  /** Most rounds of dynamic stream discovery. @default 8 */
  readonly maxDiscoveryIterations?: number;
  /** Validate command input with class-validator. @default true */
  readonly validate?: boolean;
  /** @default the system clock */
  readonly clock?: Clock;
  /** Source of jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Waits between attempts. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Ids of events and executions. @default UUIDv7 */
  readonly idGenerator?: () => string;
  /** Event types with schema versions: new events get the current version, old ones are upcast on read. */
  readonly events?: EventTypeRegistry;
}

/** Per-call options of `execute`. */
export interface ExecuteOptions {
  /** Shared by everything one request causes. @default the command id */
  readonly correlationId?: string;
  /** What caused this command (e.g. the event a process manager reacted to). @default the command id */
  readonly causationId?: string;
  readonly userId?: string;
  /** Custom metadata stored with every event. Plain JSON. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Executing twice with the same key writes once and returns the first result. */
  readonly idempotencyKey?: string;
  /** Retry overrides for this call. */
  readonly retry?: Partial<RetryPolicy>;
}

const DEFAULT_DISCOVERY_ITERATIONS = 8;
const MAX_CORRELATION_LENGTH = 200;

/** Sentinel for a store call that outlived the deadline. */
const DEADLINE = Symbol('deadline');

/**
 * Runs commands with the consistency contract of EventCore: validate, read the whole boundary in
 * one call, fold, decide, append atomically with an exact expected version for every stream read,
 * and retry the whole cycle on concurrency conflicts only.
 */
export class CommandExecutor {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly idGenerator: () => string;
  private readonly events: EventTypeRegistry | undefined;
  private readonly maxDiscoveryIterations: number;
  private readonly validate: boolean;
  private readonly retryDefaults: Partial<RetryPolicy> | undefined;

  constructor(
    private readonly store: EventStore,
    options: ExecutorOptions = {},
  ) {
    if (store === undefined || store === null || typeof store.append !== 'function') {
      throw new InvalidOptionsError('event store', 'pass an object implementing EventStore');
    }
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.idGenerator = options.idGenerator ?? newEventId;
    this.events = options.events;
    this.maxDiscoveryIterations = checkIterations(
      options.maxDiscoveryIterations ?? DEFAULT_DISCOVERY_ITERATIONS,
    );
    this.validate = options.validate ?? true;
    this.retryDefaults = options.retry;
    resolveRetryPolicy(this.retryDefaults); // fail at construction, not on the first command
  }

  /**
   * Executes a command.
   * @throws CommandValidationError, BusinessRuleViolationError, UndeclaredStreamError,
   * StreamDiscoveryLimitError, RetriesExhaustedError, CommandTimeoutError, IdempotencyKeyReuseError,
   * InvalidCommandError, and errors of the command's own code, unchanged.
   */
  async execute<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options: ExecuteOptions = {},
  ): Promise<CommandResult<E>> {
    if (typeof command !== 'object' || command === null) {
      throw new InvalidCommandError(String(command));
    }
    const definition = commandDefinition(command);
    const policy = resolveRetryPolicy(this.retryDefaults, definition.options.retry, options.retry);
    const maxIterations = checkIterations(
      definition.options.maxDiscoveryIterations ?? this.maxDiscoveryIterations,
    );
    if (definition.options.validate ?? this.validate)
      await validateCommand(command, definition.name);
    const declared = declaredStreams(command, definition);
    const idempotency =
      options.idempotencyKey === undefined
        ? undefined
        : {
            key: options.idempotencyKey,
            stream: idempotencyStream(definition.name, options.idempotencyKey),
            fingerprint: commandFingerprint(command),
          };
    const commandId = this.idGenerator();
    const baseMetadata = this.metadataFor(commandId, options);
    const deadline = this.clock.now().getTime() + policy.timeoutMs;

    const run: Run<S, E> = {
      command,
      definition,
      declared,
      maxIterations,
      idempotency,
      commandId,
      baseMetadata,
      deadline,
      policy,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(run, attempt);
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        if (attempt >= policy.maxAttempts)
          throw new RetriesExhaustedError(definition.name, attempt, error);
        const delay = backoffDelay(policy, attempt, this.random);
        if (this.clock.now().getTime() + delay >= deadline) {
          throw new CommandTimeoutError(definition.name, policy.timeoutMs, attempt, 'not-written');
        }
        await this.sleep(delay);
      }
    }
  }

  /** One read–decide–append cycle. */
  private async attempt<S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
  ): Promise<CommandResult<E>> {
    const { definition, idempotency } = run;
    const boundary = new Set<StreamId>(run.declared);
    for (let iteration = 0; ; iteration++) {
      const toRead = idempotency === undefined ? [...boundary] : [...boundary, idempotency.stream];
      const read = await this.withinDeadline(
        run,
        attempt,
        this.store.readStreams(toRead),
        'not-written',
      );
      if (idempotency !== undefined && (read.versions.get(idempotency.stream) ?? 0) > 0) {
        const record = read.events.find((event) => event.streamId === idempotency.stream)!;
        return (await replayResult(
          this.store,
          record,
          idempotency.fingerprint,
          idempotency.key,
          attempt,
        )) as CommandResult<E>;
      }
      const context = new DecisionContext(
        run.command as unknown as Record<string, unknown>,
        definition.name,
        definition.streamProperties,
        boundary,
        this.clock.now(),
        this.idGenerator,
      );
      try {
        this.decide(run.command, read, context, idempotency?.stream);
      } catch (error) {
        if (!(error instanceof DiscoveryRequest)) throw error;
        if (iteration + 1 > run.maxIterations) {
          throw new StreamDiscoveryLimitError(definition.name, run.maxIterations, [
            ...boundary,
            ...error.streamIds,
          ]);
        }
        for (const id of error.streamIds) boundary.add(id);
        continue;
      }
      return this.write(run, attempt, boundary, read, context);
    }
  }

  private decide<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    read: ReadStreamsResult,
    context: DecisionContext,
    systemStream: StreamId | undefined,
  ): void {
    let state = command.initialState();
    for (const event of read.events) {
      if (event.streamId === systemStream) continue;
      // Upcasting throws EventDecodeError naming the event: a command never decides on a
      // half-decoded or silently skipped event.
      const current = this.events === undefined ? event : this.events.upcast(event);
      state = command.apply(state, current as RecordedEvent<E>);
    }
    const outcome: unknown = command.handle(state, context as never);
    if (outcome !== undefined && typeof (outcome as { then?: unknown }).then === 'function') {
      // The decision is refused either way; observe its promise so that a rejection (e.g. an async
      // ctx.require) does not surface later as an unhandled rejection that can crash the process.
      (outcome as PromiseLike<unknown>).then(undefined, () => undefined);
      throw new InvalidCommandError(
        commandDefinition(command).name,
        'handle() returned a promise; decisions must be synchronous and pure',
      );
    }
  }

  private async write<S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    boundary: ReadonlySet<StreamId>,
    read: ReadStreamsResult,
    context: DecisionContext,
  ): Promise<CommandResult<E>> {
    const occurredAt = context.now.toISOString();
    const byStream = new Map<StreamId, EventToAppend[]>();
    for (const emitted of context.emitted) {
      let list = byStream.get(emitted.streamId);
      if (list === undefined) byStream.set(emitted.streamId, (list = []));
      list.push(this.toAppend(emitted, run.baseMetadata, occurredAt));
    }
    const writes: StreamWrite[] = [];
    const streamVersions: Record<string, number> = {};
    for (const id of boundary) {
      const version = read.versions.get(id) ?? 0;
      const events = byStream.get(id) ?? [];
      // Every stream of the boundary is guarded, read-only ones included: a decision is only
      // valid for the exact state it saw.
      writes.push({ streamId: id, expected: ExpectedVersion.exact(version), events });
      streamVersions[id] = version + events.length;
    }
    if (run.idempotency !== undefined) {
      const record: IdempotencyRecord = {
        commandName: run.definition.name,
        commandId: run.commandId,
        fingerprint: run.idempotency.fingerprint,
        eventIds: writes.flatMap((w) => w.events.map((e) => e.id)),
        streamVersions,
      };
      writes.push({
        streamId: run.idempotency.stream,
        expected: ExpectedVersion.noStream,
        events: [
          {
            id: this.idGenerator(),
            type: IDEMPOTENCY_RECORD_TYPE,
            data: record,
            metadata: run.baseMetadata,
            occurredAt,
          },
        ],
      });
    } else if (context.emitted.length === 0) {
      // Nothing to write and nothing to record: the decision was a no-op on a consistent read.
      return this.result(run, [], streamVersions, read.position, attempt);
    }
    if (this.clock.now().getTime() >= run.deadline) {
      // The decision itself ran past the deadline: refuse before writing, so the outcome is certain.
      throw new CommandTimeoutError(
        run.definition.name,
        run.policy.timeoutMs,
        attempt,
        'not-written',
      );
    }
    const appended = await this.withinDeadline(run, attempt, this.store.append(writes), 'unknown');
    const events = appended.events.filter(
      (event) =>
        event.type !== IDEMPOTENCY_RECORD_TYPE || event.streamId !== run.idempotency?.stream,
    );
    return this.result(
      run,
      events as RecordedEvent<E>[],
      streamVersions,
      appended.position,
      attempt,
    );
  }

  private result<S, E extends DomainEvent>(
    run: Run<S, E>,
    events: readonly RecordedEvent<E>[],
    streamVersions: Record<string, number>,
    position: CommandResult['position'],
    attempts: number,
  ): CommandResult<E> {
    return {
      commandId: run.commandId,
      commandName: run.definition.name,
      events,
      streamVersions,
      position,
      attempts,
      replayed: false,
    };
  }

  private toAppend(emitted: EmittedEvent, base: EventMetadata, occurredAt: string): EventToAppend {
    return {
      id: this.idGenerator(),
      type: emitted.event.type,
      data: emitted.event.data,
      metadata: eventMetadata(base, emitted.custom),
      occurredAt,
      schemaVersion: this.events?.currentVersion(emitted.event.type) ?? 1,
    };
  }

  private metadataFor(commandId: string, options: ExecuteOptions): EventMetadata {
    for (const field of ['correlationId', 'causationId', 'userId'] as const) {
      const value = options[field];
      if (
        value !== undefined &&
        (typeof value !== 'string' || value.length === 0 || value.length > MAX_CORRELATION_LENGTH)
      ) {
        throw new InvalidOptionsError(
          field,
          `use a string of 1–${MAX_CORRELATION_LENGTH} characters`,
        );
      }
    }
    if (
      options.metadata !== undefined &&
      (typeof options.metadata !== 'object' ||
        options.metadata === null ||
        Array.isArray(options.metadata))
    ) {
      throw new InvalidOptionsError('metadata', 'use a plain object of JSON values');
    }
    return {
      correlationId: options.correlationId ?? commandId,
      causationId: options.causationId ?? commandId,
      userId: options.userId ?? null,
      custom: options.metadata ?? {},
    };
  }

  /** Races a store call against the command's deadline. */
  private async withinDeadline<T, S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    call: Promise<T>,
    outcome: 'not-written' | 'unknown',
  ): Promise<T> {
    const remaining = run.deadline - this.clock.now().getTime();
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<typeof DEADLINE>((resolve) => {
      timer = setTimeout(() => resolve(DEADLINE), Math.max(0, remaining));
      timer.unref?.();
    });
    try {
      const winner = await Promise.race([call, expiry]);
      if (winner === DEADLINE) {
        call.catch(() => undefined); // the late outcome is reported through the timeout error
        throw new CommandTimeoutError(run.definition.name, run.policy.timeoutMs, attempt, outcome);
      }
      return winner as T;
    } finally {
      clearTimeout(timer);
    }
  }
}

interface Run<S, E extends DomainEvent> {
  readonly command: CommandLogic<S, E>;
  readonly definition: CommandDefinition;
  readonly declared: readonly StreamId[];
  readonly maxIterations: number;
  readonly idempotency: { key: string; stream: StreamId; fingerprint: string } | undefined;
  readonly commandId: string;
  readonly baseMetadata: EventMetadata;
  readonly deadline: number;
  readonly policy: RetryPolicy;
}

function checkIterations(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionsError(
      'maxDiscoveryIterations',
      `use an integer >= 0, got ${String(value)}`,
    );
  }
  return value;
}
