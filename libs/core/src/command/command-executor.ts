import type { DomainEvent, EventMetadata, EventToAppend, RecordedEvent } from '../events/event';
import { newEventId } from '../events/event-id';
import { EventTypeRegistry } from '../events/event-type-registry';
import {
  AppendConditionFailedError,
  CommandTimeoutError,
  ConcurrencyConflictError,
  InvalidCommandError,
  InvalidOptionsError,
  RetriesExhaustedError,
  StreamDiscoveryLimitError,
  type StreamConflict,
} from '../errors';
import type { AppendCondition, AppendOptions, EventQuery } from '../store/event-query';
import type { AppendResult, EventStore, StreamWrite } from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import { isSystemStream, type StreamId } from '../store/stream-id';
import { isoTime } from '../util/iso-time';
import { type Clock, systemClock } from './clock';
import {
  checkPropertiesDecorated,
  commandDefinition,
  type CommandDefinition,
  declaredQuery,
  declaredStreams,
} from './command-definition';
import type { CommandLogic } from './command-logic';
import type { CommandResult } from './command-result';
import {
  BoundaryQuery,
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
import { Deadlines } from './deadlines';
import { StreamTurns, type Turn } from './stream-turns';
import {
  backoffDelay,
  COMMAND_RETRY,
  type ResolvedRetryOptions,
  resolveRetryOptions,
  type RetryOptions,
} from './retry-options';
import { alignedTo, type StateSnapshot, StateCache, stateCacheKey } from './state-cache';
import { validateCommand } from './validate-command';
import {
  checkPositive,
  checkSnapshotOptions,
  DEFAULT_SNAPSHOT_EVERY,
  type SnapshotOptions,
} from '../snapshot/snapshot-options';
import type { SnapshotKey, SnapshotStore } from '../snapshot/snapshot-store';
import { SnapshotWriter } from '../snapshot/snapshot-writer';
import { type CommandObservation, CommandTelemetry } from '../telemetry/command-telemetry';

/** Defaults for every command run by one executor (a module's `executor` options). */
export interface ExecutorOptions {
  /** Retry of concurrency conflicts; a command's `@Command({ retry })` and the call's options override it. */
  readonly retry?: RetryOptions;
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
  /**
   * Keep each command's folded state per boundary, so an uncontended command skips the read and
   * needs one round trip. Safe because every append checks exact versions; requires that
   * `initialState` and `apply` depend only on the events (not on the command's fields) — opt a
   * command out with `@Command({ stateCache: false })`. Commands with a `@Boundary()` query are
   * never cached: entries are keyed by stream versions, which say nothing about the events a
   * query matches. Off unless given.
   */
  readonly stateCache?: { readonly maxEntries: number };
  /** Event types with schema versions: new events get the current version, old ones are upcast on read. */
  readonly events?: EventTypeRegistry;
  /**
   * Commands of this executor that share a declared stream run one after another instead of
   * racing (see `StreamTurns`): under contention they stop conflicting with each other. Other
   * processes still race, and every append still checks exact versions. @default true
   */
  readonly streamTurns?: boolean;
  /**
   * Persisted snapshots of command state, used when the state cache misses (a cold command):
   * the newest valid snapshot and the events after it are read in one call, and states are saved
   * in the background after a cold execution folded `every` events or more. Commands opt in with
   * `@Command({ snapshot: { ... } })`, or all streams commands with `every`. See docs/snapshots.md.
   * Off unless given.
   */
  readonly snapshots?: SnapshotOptions;
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
  readonly retry?: RetryOptions;
}

const DEFAULT_DISCOVERY_ITERATIONS = 8;
const MAX_CORRELATION_LENGTH = 200;
const NO_OPTIONS: ExecuteOptions = Object.freeze({});
const NO_CUSTOM_METADATA: EventMetadata['custom'] = Object.freeze({});
const NO_APPENDS: readonly EventToAppend[] = Object.freeze([]);

/** What the executor derives from a command class and its own options, once per class. */
interface Plan {
  readonly maxIterations: number;
  readonly validate: boolean;
  readonly stateCache: boolean;
  /** Undefined when this command is never snapshotted. */
  readonly snapshot: SnapshotPolicy | undefined;
}

/** A command class's resolved snapshot policy. */
interface SnapshotPolicy {
  readonly every: number;
  readonly stateVersion: number;
}

/** Fingerprint of no registered event types (the executor without an `events` registry). */
const NO_EVENT_TYPES = new EventTypeRegistry();

/**
 * Runs commands with the consistency contract of EventCore: validate, read the whole boundary in
 * one call, fold, decide, append atomically with an exact expected version for every stream read,
 * and retry the whole cycle on concurrency conflicts only.
 *
 * A command with a `@Boundary()` query (DCB) is run alike: one `read` of its query (beside the
 * `readStreams` of its streams, if it has any), the events of both folded once each in global
 * order, and one append guarded by the stream versions and by an append condition on the query
 * after the last position that read returned; a failed condition is retried like a conflict.
 * The state cache never serves such a command: it is keyed by stream versions, which say nothing
 * about the events a query matches.
 */
export class CommandExecutor {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly idGenerator: () => string;
  private readonly events: EventTypeRegistry | undefined;
  private readonly cache: StateCache | undefined;
  private readonly telemetry = CommandTelemetry.create();
  private readonly deadlines = new Deadlines();
  private readonly turns: StreamTurns | undefined;
  private readonly plans = new WeakMap<CommandDefinition, Plan>();
  private readonly policies = new WeakMap<CommandDefinition, ResolvedRetryOptions>();
  private readonly maxDiscoveryIterations: number;
  private readonly validate: boolean;
  private readonly retryDefaults: RetryOptions | undefined;
  private readonly snapshots:
    { store: SnapshotStore; every: number | undefined; writer: SnapshotWriter } | undefined;

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
    if (options.stateCache !== undefined) {
      const max = options.stateCache.maxEntries;
      if (!Number.isSafeInteger(max) || max < 1) {
        throw new InvalidOptionsError(
          'stateCache.maxEntries',
          `use an integer >= 1, got ${String(max)}`,
        );
      }
      this.cache = new StateCache(max);
    }
    this.maxDiscoveryIterations = checkIterations(
      options.maxDiscoveryIterations ?? DEFAULT_DISCOVERY_ITERATIONS,
    );
    this.validate = options.validate ?? true;
    if (options.streamTurns !== undefined && typeof options.streamTurns !== 'boolean') {
      throw new InvalidOptionsError(
        'streamTurns',
        `use true or false, got ${JSON.stringify(options.streamTurns)}`,
      );
    }
    this.turns = options.streamTurns === false ? undefined : new StreamTurns();
    this.retryDefaults = options.retry;
    if (options.snapshots !== undefined) {
      checkSnapshotOptions(options.snapshots);
      const { store, every } = options.snapshots;
      this.snapshots = { store, every, writer: new SnapshotWriter(store, options.snapshots) };
    }
    // Fail at construction, not on the first command.
    resolveRetryOptions(COMMAND_RETRY, this.retryDefaults);
  }

  /**
   * Stops taking snapshots and waits until the queued ones are written (at most
   * `snapshots.maxPending` saves): call it before closing the stores. Commands still run.
   */
  async close(): Promise<void> {
    await this.snapshots?.writer.close();
  }

  /** Waits until the snapshots queued so far are written (or reported); for tests and handovers. */
  async flushSnapshots(): Promise<void> {
    await this.snapshots?.writer.flush();
  }

  /**
   * Executes a command.
   * @throws CommandValidationError, BusinessRuleViolationError, UndeclaredStreamError,
   * StreamDiscoveryLimitError, RetriesExhaustedError, CommandTimeoutError, IdempotencyKeyReuseError,
   * InvalidCommandError, and errors of the command's own code, unchanged.
   */
  execute<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options: ExecuteOptions = NO_OPTIONS,
  ): Promise<CommandResult<E>> {
    try {
      if (typeof command !== 'object' || command === null) {
        throw new InvalidCommandError(String(command));
      }
      const definition = commandDefinition(command);
      return this.telemetry === undefined
        ? this.run(command, options, definition, undefined)
        : this.observed(this.telemetry, command, options, definition);
    } catch (error) {
      return Promise.reject(error as Error); // every failure is a rejection, as from an async function
    }
  }

  /** {@link execute} with a span and metrics. */
  private async observed<S, E extends DomainEvent>(
    telemetry: CommandTelemetry,
    command: CommandLogic<S, E>,
    options: ExecuteOptions,
    definition: CommandDefinition,
  ): Promise<CommandResult<E>> {
    const observation = telemetry.start(definition.name);
    try {
      const result = await this.run(command, options, definition, observation);
      const outcome = result.replayed
        ? 'replayed'
        : result.events.length === 0
          ? 'no-op'
          : 'written';
      telemetry.succeed(observation, outcome, result.attempts, result.events.length);
      return result;
    } catch (error) {
      telemetry.fail(observation, error);
      throw error;
    }
  }

  private async run<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    options: ExecuteOptions,
    definition: CommandDefinition,
    observation: CommandObservation | undefined,
  ): Promise<CommandResult<E>> {
    const policy =
      options.retry === undefined
        ? this.commandPolicy(definition)
        : resolveRetryOptions(
            COMMAND_RETRY,
            this.retryDefaults,
            definition.options.retry,
            options.retry,
          );
    const plan = this.planOf(definition);
    if (plan.validate) {
      const validation = validateCommand(command, definition.name);
      if (validation !== undefined) await validation;
    }
    const declared = declaredStreams(command, definition);
    const query = declaredQuery(command, definition);
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
    const deadline = this.nowMs() + policy.timeoutMs;

    const run: Run<S, E> = {
      command,
      definition,
      declared,
      query,
      maxIterations: plan.maxIterations,
      idempotency,
      commandId,
      baseMetadata,
      deadline,
      policy,
      cacheable: plan.stateCache && idempotency === undefined && query === undefined,
      // A snapshot load reads the boundary's streams only: a command with an idempotency key
      // reads its record's stream with them, so it reads in full.
      snapshot: idempotency === undefined && query === undefined ? plan.snapshot : undefined,
      turn: this.turns?.take(declared),
    };
    try {
      if (run.turn?.ready !== undefined) {
        await this.deadlines.race(
          run.turn.ready,
          deadline - this.nowMs(),
          () => new CommandTimeoutError(definition.name, policy.timeoutMs, 0, 'not-written'),
        );
      }
      for (let attempt = 1; ; attempt++) {
        try {
          // One read–decide–append cycle. With the state cache on, the first attempt may decide
          // on cached states; any outcome of that other than a successful append (a conflict, a
          // rule violation, a no-op, a changed state between rounds of discovery) is re-decided on
          // fresh reads, so a stale entry can cost a round trip but never a wrong answer. Inline,
          // not a method: an async function's promise and frame less per command.
          if (attempt === 1 && run.cacheable) {
            const outcome = await this.decideAndWrite(run, attempt, true);
            if (outcome !== UNDECIDED) return outcome;
          }
          return (await this.decideAndWrite(run, attempt, false)) as CommandResult<E>;
        } catch (error) {
          if (
            !(error instanceof ConcurrencyConflictError) &&
            !(error instanceof AppendConditionFailedError)
          )
            throw error;
          if (observation !== undefined) this.telemetry?.conflict(observation, attempt);
          if (attempt >= policy.maxAttempts)
            throw new RetriesExhaustedError(definition.name, attempt, error);
          const delay = backoffDelay(policy, attempt, this.random);
          if (this.nowMs() + delay >= deadline) {
            throw new CommandTimeoutError(
              definition.name,
              policy.timeoutMs,
              attempt,
              'not-written',
            );
          }
          await this.sleep(delay);
        }
      }
    } finally {
      run.turn?.done();
    }
  }

  /**
   * Decides on this instance's declared streams (and query), then on those plus what the decision
   * discovers (and widens), until it decides; then writes. Every round's state is folded from
   * exactly the current boundary (read, or with `useCache` taken from the cache when it holds that
   * exact boundary), and every round must see the same version of each stream it shares with
   * earlier rounds: otherwise the boundary would depend on a state the append does not guard.
   * A query needs no such check: each round reads the whole, widened query again, and the append
   * condition guards exactly what the deciding round read.
   * @returns the result, or UNDECIDED when a decision that rested on the cache must be made afresh.
   */
  private async decideAndWrite<S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    useCache: boolean,
  ): Promise<CommandResult<E> | typeof UNDECIDED> {
    const { definition } = run;
    let boundary: readonly StreamId[] = run.declared;
    let query = run.query;
    let previous: StateSnapshot | undefined; // the last round's, undefined in the first
    let usedCache = false;
    for (let iteration = 0; ; iteration++) {
      const cached = useCache ? this.cache?.get(definition, stateCacheKey(boundary)) : undefined;
      let snapshot: Snapshot | undefined =
        cached === undefined ? undefined : alignedTo(cached, boundary);
      if (snapshot !== undefined) {
        usedCache = true;
      } else {
        const read =
          query !== undefined
            ? await this.readQueryBoundary(run, attempt, boundary, query)
            : run.snapshot === undefined
              ? await this.readBoundary(run, attempt, boundary)
              : await this.loadBoundary(run, attempt, boundary, run.snapshot);
        if (!('boundary' in read)) return read as CommandResult<E>; // an idempotent replay
        snapshot = read;
      }
      const moved = previous === undefined ? undefined : movedSince(previous, snapshot);
      previous = snapshot;
      if (moved !== undefined) {
        if (usedCache) return UNDECIDED;
        throw new ConcurrencyConflictError(moved); // retried with backoff, like a failed append
      }
      const context = new DecisionContext(
        run.command as unknown as Record<string, unknown>,
        definition.name,
        definition.streamProperties,
        boundary,
        query === undefined ? undefined : new BoundaryQuery(query),
        this.clock.now(),
        this.idGenerator,
      );
      try {
        this.decide(run.command, snapshot.state as S, context);
      } catch (error) {
        if (usedCache) return UNDECIDED; // report nothing, discover nothing on a cached state alone
        if (!(error instanceof DiscoveryRequest)) throw error;
        if (iteration + 1 > run.maxIterations) {
          throw new StreamDiscoveryLimitError(definition.name, run.maxIterations, [
            ...boundary,
            ...error.streamIds,
          ]);
        }
        if (error.items.length > 0) query = { items: [...query!.items, ...error.items] };
        if (error.streamIds.length === 0) continue;
        const grown = [...boundary];
        for (const id of error.streamIds) if (!grown.includes(id)) grown.push(id);
        boundary = grown;
        await this.extendTurn(run, attempt, boundary);
        continue;
      }
      if (usedCache && context.emitted.length === 0) return UNDECIDED; // a no-op must rest on fresh reads
      try {
        return await this.write(run, attempt, snapshot, context);
      } catch (error) {
        if (!(usedCache && error instanceof ConcurrencyConflictError)) throw error;
        // A stale hint, not contention: forget it and decide again now, without counting an attempt.
        this.cache?.delete(definition, stateCacheKey(snapshot.boundary));
        return UNDECIDED;
      }
    }
  }

  /** Reads a boundary and folds it; or, when the idempotency key was used before, the first result. */
  private async readBoundary<S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    boundary: readonly StreamId[],
  ): Promise<StateSnapshot | CommandResult<DomainEvent>> {
    const { idempotency } = run;
    const toRead = idempotency === undefined ? boundary : [...boundary, idempotency.stream];
    const read = await this.withinDeadline(
      run,
      attempt,
      this.store.readStreams(toRead),
      'not-written',
    );
    this.cache?.observe(read.versions);
    if (idempotency !== undefined && (read.versions.get(idempotency.stream) ?? 0) > 0) {
      const record = read.events.find((event) => event.streamId === idempotency.stream)!;
      return replayResult(this.store, record, idempotency.fingerprint, idempotency.key, attempt);
    }
    return {
      owner: run.definition,
      state: this.fold(run.command, run.command.initialState(), read.events),
      boundary,
      versions: boundary.map((id) => read.versions.get(id) ?? 0),
      position: read.position,
    };
  }

  /**
   * Reads a boundary from its newest valid snapshot and the events after it (one store call), and
   * folds those events into the snapshot's state. The snapshot is of this command class over
   * exactly this boundary (a boundary grown by discovery is another key), at versions no later
   * than the streams', with this policy's state version and this executor's event-type
   * fingerprint; the append then guards the versions read, as after a full read. A snapshot that
   * cannot be decoded is reported and the boundary read in full.
   */
  private async loadBoundary<S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    boundary: readonly StreamId[],
    policy: SnapshotPolicy,
  ): Promise<Snapshot> {
    const { store, writer } = this.snapshots!;
    const key: SnapshotKey = {
      commandName: run.definition.name,
      boundary: [...boundary].sort(),
      stateVersion: policy.stateVersion,
      fingerprint: (this.events ?? NO_EVENT_TYPES).fingerprint(),
    };
    const loaded = await this.withinDeadline(run, attempt, store.load(key), 'not-written');
    this.cache?.observe(loaded.versions);
    let initial: S;
    if (loaded.snapshot === undefined) {
      initial = run.command.initialState();
    } else {
      try {
        const { encoding, state } = loaded.snapshot;
        if (encoding !== store.serializer.format) {
          throw new Error(
            `it was written by the ${encoding} serializer, the store now has ${store.serializer.format}`,
          );
        }
        const data = store.serializer.deserialize(state);
        initial =
          run.command.fromSnapshot === undefined ? (data as S) : run.command.fromSnapshot(data);
      } catch (error) {
        writer.undecodable(run.definition.name, error);
        const read = (await this.readBoundary(run, attempt, boundary)) as StateSnapshot;
        // Every event of the boundary was folded: due, a new snapshot supersedes the broken one.
        return { ...read, folded: read.versions.reduce((sum, version) => sum + version, 0) };
      }
    }
    return {
      owner: run.definition,
      state: this.fold(run.command, initial, loaded.events),
      boundary,
      versions: boundary.map((id) => loaded.versions.get(id) ?? 0),
      position: loaded.position,
      folded: loaded.events.length,
    };
  }

  /**
   * Reads a query command's boundary: its query with one `read`, and beside it (when it has any, or
   * an idempotency key) its streams with one `readStreams`; folds the events of both in global
   * order, an event read by both once. Or, when the idempotency key was used before, the first
   * result.
   */
  private async readQueryBoundary<S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    boundary: readonly StreamId[],
    query: EventQuery,
  ): Promise<Snapshot | CommandResult<DomainEvent>> {
    const { idempotency } = run;
    const toRead = idempotency === undefined ? boundary : [...boundary, idempotency.stream];
    const [matched, streams] = await Promise.all([
      this.withinDeadline(run, attempt, this.store.read(query), 'not-written', 'read'),
      toRead.length === 0
        ? undefined
        : this.withinDeadline(run, attempt, this.store.readStreams(toRead), 'not-written'),
    ]);
    if (streams !== undefined) this.cache?.observe(streams.versions);
    if (idempotency !== undefined && (streams!.versions.get(idempotency.stream) ?? 0) > 0) {
      const record = streams!.events.find((event) => event.streamId === idempotency.stream)!;
      return replayResult(this.store, record, idempotency.fingerprint, idempotency.key, attempt);
    }
    const events =
      streams === undefined ? matched.events : mergeOnce(matched.events, streams.events);
    const position =
      streams === undefined || this.store.comparePositions(matched.position, streams.position) >= 0
        ? matched.position
        : streams.position;
    return {
      owner: run.definition,
      state: this.fold(run.command, run.command.initialState(), events),
      boundary,
      versions: boundary.map((id) => streams!.versions.get(id) ?? 0),
      position,
      // The condition's `after` is the last position the query read returned: an event matching
      // it at a later position (a write the decision did not see) fails the append.
      condition: { failIfEventsMatch: query, after: matched.events.at(-1)?.globalPosition },
    };
  }

  /**
   * Takes this command's turn on streams it discovered, so that commands of this executor that
   * discover the same streams (orders naming one product) queue instead of conflicting. The old
   * turn is given up first and the new one taken on every stream at once: a command never waits
   * while holding a place, so turns cannot deadlock.
   */
  private async extendTurn<S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    boundary: readonly StreamId[],
  ): Promise<void> {
    const turns = this.turns;
    const current = run.turn;
    if (turns === undefined || current === undefined) return;
    const streams = current.streams;
    if (boundary.every((id) => streams.includes(id))) return;
    current.done();
    const turn = turns.take([...streams, ...boundary.filter((id) => !streams.includes(id))]);
    run.turn = turn;
    if (turn.ready === undefined) return;
    await this.deadlines.race(
      turn.ready,
      run.deadline - this.nowMs(),
      () =>
        new CommandTimeoutError(run.definition.name, run.policy.timeoutMs, attempt, 'not-written'),
    );
  }

  /**
   * Folds events into a state, upcasting them; skips EventCore's own idempotency records (the
   * command's own, read with its streams, and any a query for every event matches).
   */
  private fold<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    initial: S,
    events: readonly RecordedEvent[],
  ): S {
    let state = initial;
    for (const event of events) {
      if (event.type === IDEMPOTENCY_RECORD_TYPE && isSystemStream(event.streamId)) continue;
      // Upcasting throws EventDecodeError naming the event: a command never decides on a
      // half-decoded or silently skipped event.
      const current = this.events === undefined ? event : this.events.upcast(event);
      state = command.apply(state, current as RecordedEvent<E>);
    }
    return state;
  }

  private decide<S, E extends DomainEvent>(
    command: CommandLogic<S, E>,
    state: S,
    context: DecisionContext,
  ): void {
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

  /**
   * Appends the decision's events, guarding every stream of the boundary, and for a query command
   * its query with an append condition. Not an async function: on this path, the append's promise
   * is the only one needed.
   */
  private write<S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    snapshot: Snapshot,
    context: DecisionContext,
  ): CommandResult<E> | Promise<CommandResult<E>> {
    const occurredAt = isoTime(context.now.getTime());
    const emitted = context.emitted;
    // Ids are drawn in emission order, then the events are grouped by stream.
    const appends: EventToAppend[] = [];
    // Most decisions emit to streams only: a list of events in no stream is made for the others.
    let inNoStream: EventToAppend[] | undefined;
    for (const event of emitted) {
      const append = this.toAppend(event, run.baseMetadata, occurredAt);
      appends.push(append);
      if (event.streamId === undefined) (inNoStream ??= []).push(append);
    }
    const unstreamed: readonly EventToAppend[] = inNoStream ?? NO_APPENDS;
    const writes: StreamWrite[] = [];
    const streamVersions: Record<string, number> = {};
    // The snapshot's boundary is the decision's: discovering a stream always re-reads first.
    const { boundary, versions } = snapshot;
    const written: number[] = [];
    for (let b = 0; b < boundary.length; b++) {
      const id = boundary[b]!;
      const version = versions[b]!;
      const events =
        boundary.length === 1 && unstreamed.length === 0
          ? appends
          : appends.filter((_, i) => emitted[i]!.streamId === id);
      // Every stream of the boundary is guarded, read-only ones included: a decision is only
      // valid for the exact state it saw.
      writes.push({ streamId: id, expected: ExpectedVersion.exact(version), events });
      streamVersions[id] = version + events.length;
      written.push(version + events.length);
    }
    if (run.idempotency !== undefined) {
      const record: IdempotencyRecord = {
        commandName: run.definition.name,
        commandId: run.commandId,
        fingerprint: run.idempotency.fingerprint,
        eventIds: [
          ...writes.flatMap((w) => w.events.map((e) => e.id)),
          ...unstreamed.map((e) => e.id),
        ],
        streamVersions,
        ...(unstreamed.length === 0 ? {} : { unstreamedEventIds: unstreamed.map((e) => e.id) }),
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
      this.remember(run, snapshot);
      if (this.snapshotDue(run, snapshot, 0)) this.offerSnapshot(run, snapshot);
      return this.result(run, [], streamVersions, snapshot.position, attempt);
    }
    const now = this.nowMs();
    if (now >= run.deadline) {
      // The decision itself ran past the deadline: refuse before writing, so the outcome is certain.
      throw new CommandTimeoutError(
        run.definition.name,
        run.policy.timeoutMs,
        attempt,
        'not-written',
      );
    }
    const options: AppendOptions | undefined =
      snapshot.condition === undefined
        ? undefined
        : { condition: snapshot.condition, events: unstreamed };
    const append =
      options === undefined ? this.store.append(writes) : this.store.append(writes, options);
    return this.withinDeadline(run, attempt, append, 'unknown', 'append', now).then((appended) =>
      this.written(run, attempt, snapshot, streamVersions, written, appended),
    );
  }

  /** What an append wrote, as the command's result; remembers the new state in the cache. */
  private written<S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    snapshot: Snapshot,
    streamVersions: Record<string, number>,
    versions: readonly number[],
    appended: AppendResult,
  ): CommandResult<E> {
    const events = (
      run.idempotency === undefined
        ? appended.events
        : appended.events.filter(
            (event) =>
              event.type !== IDEMPOTENCY_RECORD_TYPE || event.streamId !== run.idempotency?.stream,
          )
    ) as readonly RecordedEvent<E>[];
    this.cache?.observe(appended.versions);
    const offering = this.snapshotDue(run, snapshot, events.length);
    if (run.cacheable || offering) {
      // The append was exact on every stream of the boundary, so the snapshot plus our own events
      // is the state at the new versions.
      const after: StateSnapshot = {
        owner: run.definition,
        state: this.fold(run.command, snapshot.state as S, events),
        boundary: snapshot.boundary,
        versions,
        position: appended.position,
      };
      this.remember(run, after);
      if (offering) this.offerSnapshot(run, after);
    }
    return this.result(run, events, streamVersions, appended.position, attempt);
  }

  /**
   * Whether the state after this decision is to be snapshotted: it was loaded (not taken from the
   * cache), and loading it plus the command's own events folded at least `every` events.
   */
  private snapshotDue<S, E extends DomainEvent>(
    run: Run<S, E>,
    snapshot: Snapshot,
    written: number,
  ): boolean {
    return (
      run.snapshot !== undefined &&
      snapshot.folded !== undefined &&
      snapshot.folded + written >= run.snapshot.every
    );
  }

  /** Hands a state over to the background writer; returns at once. */
  private offerSnapshot<S, E extends DomainEvent>(run: Run<S, E>, at: StateSnapshot): void {
    const policy = run.snapshot!;
    const { command } = run;
    this.snapshots!.writer.offer({
      owner: run.definition,
      commandName: run.definition.name,
      stateVersion: policy.stateVersion,
      fingerprint: (this.events ?? NO_EVENT_TYPES).fingerprint(),
      boundary: at.boundary,
      versions: at.versions,
      state: at.state,
      toSnapshot: command.toSnapshot?.bind(command) as ((state: unknown) => unknown) | undefined,
      fromSnapshot: command.fromSnapshot?.bind(command),
    });
  }

  private remember<S, E extends DomainEvent>(run: Run<S, E>, snapshot: StateSnapshot): void {
    if (run.cacheable) this.cache?.set(stateCacheKey(snapshot.boundary), snapshot);
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
    const { type, data, tags } = emitted.event;
    const metadata = eventMetadata(base, emitted.custom);
    const event: EventToAppend =
      this.events === undefined
        ? { id: this.idGenerator(), type, data, metadata, occurredAt, schemaVersion: 1 }
        : {
            id: this.idGenerator(),
            type,
            ...this.encode(emitted.event),
            metadata,
            occurredAt,
            schemaVersion: this.events.currentVersion(type) ?? 1,
          };
    // A copy: the decision's array must not change what is validated and stored.
    return tags === undefined ? event : { ...event, tags: [...tags] };
  }

  /** The executor's and the command's policy layers, merged and checked once per command class. */
  private commandPolicy(definition: CommandDefinition): ResolvedRetryOptions {
    let policy = this.policies.get(definition);
    if (policy === undefined) {
      policy = resolveRetryOptions(COMMAND_RETRY, this.retryDefaults, definition.options.retry);
      this.policies.set(definition, policy);
    }
    return policy;
  }

  /** The executor's and the command's other options, merged and checked once per command class. */
  private planOf(definition: CommandDefinition): Plan {
    let plan = this.plans.get(definition);
    if (plan === undefined) {
      const options = definition.options;
      plan = {
        maxIterations: checkIterations(
          options.maxDiscoveryIterations ?? this.maxDiscoveryIterations,
        ),
        validate: options.validate ?? this.validate,
        stateCache: this.cache !== undefined && options.stateCache !== false,
        snapshot: this.snapshotPolicy(definition),
      };
      if (plan.validate) checkPropertiesDecorated(definition);
      this.plans.set(definition, plan);
    }
    return plan;
  }

  /**
   * A command class's snapshot policy: its own `snapshot` option over the executor's `every`.
   * @throws InvalidCommandError when a query command or one with `stateCache: false` opts in.
   */
  private snapshotPolicy(definition: CommandDefinition): SnapshotPolicy | undefined {
    const { snapshot: own, stateCache } = definition.options;
    const every = this.snapshots?.every;
    if (this.snapshots === undefined || own === false) return undefined;
    if (own === undefined) {
      // The module-wide policy covers the commands it can: never a query or a field-dependent state.
      if (every === undefined || definition.boundaryMethod !== undefined || stateCache === false)
        return undefined;
      return { every, stateVersion: 1 };
    }
    if (typeof own !== 'object' || own === null) {
      throw new InvalidCommandError(
        definition.name,
        `its snapshot option is ${JSON.stringify(own)}; use false or { every?, stateVersion? }`,
      );
    }
    checkPositive(`${definition.name} snapshot.every`, own.every);
    checkPositive(`${definition.name} snapshot.stateVersion`, own.stateVersion);
    if (definition.boundaryMethod !== undefined) {
      throw new InvalidCommandError(
        definition.name,
        'it has a @Boundary() query and a snapshot option; query commands are never snapshotted (a snapshot is keyed by stream versions, which say nothing about the events a query matches): remove the snapshot option',
      );
    }
    if (stateCache === false) {
      throw new InvalidCommandError(
        definition.name,
        "it says stateCache: false (its state depends on the command's fields) and asks for snapshots, which are shared by every instance with the same streams: remove one of the two",
      );
    }
    return {
      every: own.every ?? every ?? DEFAULT_SNAPSHOT_EVERY,
      stateVersion: own.stateVersion ?? 1,
    };
  }

  /** The clock's time in milliseconds, without a Date when it is the system clock. */
  private nowMs(): number {
    return this.clock === systemClock ? Date.now() : this.clock.now().getTime();
  }

  private encode(event: DomainEvent): { data: unknown; encoding?: string } {
    if (this.events === undefined) return { data: event.data };
    const { data, encoding } = this.events.encode(event.type, event.data);
    return encoding === undefined ? { data } : { data, encoding };
  }

  private metadataFor(commandId: string, options: ExecuteOptions): EventMetadata {
    if (options === NO_OPTIONS) {
      return {
        correlationId: commandId,
        causationId: commandId,
        userId: null,
        custom: NO_CUSTOM_METADATA,
      };
    }
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
      custom: options.metadata ?? NO_CUSTOM_METADATA,
    };
  }

  /**
   * Races a store call against the command's deadline: past it, the call's late outcome is
   * reported as a CommandTimeoutError.
   */
  private withinDeadline<T, S, E extends DomainEvent>(
    run: Run<S, E>,
    attempt: number,
    call: Promise<T>,
    outcome: 'not-written' | 'unknown',
    operation: 'readStreams' | 'read' | 'append' = 'readStreams',
    now = this.nowMs(),
  ): Promise<T> {
    const timedOut = () =>
      new CommandTimeoutError(run.definition.name, run.policy.timeoutMs, attempt, outcome);
    const raced = this.deadlines.race(call, run.deadline - now, timedOut);
    const telemetry = this.telemetry;
    if (telemetry === undefined) return raced;
    const started = performance.now();
    return raced.finally(() => telemetry.storeCall(operation, started));
  }
}

interface Run<S, E extends DomainEvent> {
  readonly command: CommandLogic<S, E>;
  readonly definition: CommandDefinition;
  readonly declared: readonly StreamId[];
  /** The query of the `@Boundary()` method; undefined for a streams-only command. */
  readonly query: EventQuery | undefined;
  readonly maxIterations: number;
  readonly idempotency: { key: string; stream: StreamId; fingerprint: string } | undefined;
  readonly commandId: string;
  readonly baseMetadata: EventMetadata;
  readonly deadline: number;
  readonly policy: ResolvedRetryOptions;
  /** Whether states of this command are kept in, and taken from, the state cache. */
  readonly cacheable: boolean;
  /** This command's snapshot policy, when its boundary is loaded from snapshots. */
  readonly snapshot: SnapshotPolicy | undefined;
  /** This command's place in the executor's stream turns; it grows with discovered streams. */
  turn: Turn | undefined;
}

/** A read boundary, folded; for a query command with the append condition that guards it. */
interface Snapshot extends StateSnapshot {
  readonly condition?: AppendCondition;
  /** For a boundary loaded through snapshots: how many events were folded into its state. */
  readonly folded?: number;
}

/**
 * The events of a query read and of a streams read, in global order, each event once (a stream
 * event the query also matches is in both).
 */
function mergeOnce(
  a: readonly RecordedEvent[],
  b: readonly RecordedEvent[],
): readonly RecordedEvent[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const merged: RecordedEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.globalPosition < y.globalPosition)) {
      merged.push(x!);
      i++;
    } else if (x === undefined || y.globalPosition < x.globalPosition) {
      merged.push(y);
      j++;
    } else {
      merged.push(x);
      i++;
      j++;
    }
  }
  return merged;
}

/** What a decision on cached states answers when it must be made again on fresh reads. */
const UNDECIDED = Symbol('undecided');

/**
 * The streams of the last round's snapshot whose versions differ in this round's, as conflicts;
 * undefined when none did. A round's boundary is the last one's plus what it discovered, in the
 * same order, so stream `i` of both is the same stream; checking each round against the one before
 * checks it against all of them.
 */
function movedSince(
  previous: StateSnapshot,
  snapshot: StateSnapshot,
): StreamConflict[] | undefined {
  let moved: StreamConflict[] | undefined;
  for (let i = 0; i < previous.boundary.length; i++) {
    const earlier = previous.versions[i]!;
    const version = snapshot.versions[i]!;
    if (earlier !== version) {
      const streamId = previous.boundary[i]!;
      (moved ??= []).push({ streamId, expected: ExpectedVersion.exact(earlier), actual: version });
    }
  }
  return moved;
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
