/**
 * A differential property suite for the executor's state cache (DESIGN §2, "caches never change a
 * decision"): random commands — with input-dependent and state-dependent discovery and an array
 * `@Stream()` property — decide identically with the cache on and off, on any adapter.
 */
import { IsBoolean, IsString } from 'class-validator';
import fc from 'fast-check';
import { CommandExecutor } from '../command/command-executor';
import { Command, Stream } from '../command/command.decorators';
import type { CommandContext, CommandLogic } from '../command/command-logic';
import type { CommandResult } from '../command/command-result';
import type { RecordedEvent } from '../events/event';
import { isEventCoreError } from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import type { EventStore, StreamWrite } from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import type { StreamId } from '../store/stream-id';
import { ManualClock } from './manual-clock';

/** What the differential commands fold: enough that any extra or missing event shows. */
interface GateView {
  /** Events folded, of any stream: a state folded from another boundary differs here. */
  readonly seen: number;
  readonly approvals: number;
  /** Open (true) or closed (false) per gate stream folded; a gate never toggled is open. */
  readonly gates: Readonly<Record<string, boolean>>;
  /** Gates named by the approvals folded, in order. */
  readonly mentioned: readonly string[];
}

export type GateEvent =
  | { type: 'Approved'; data: { gate: string; approvalsBefore: number; seen: number } }
  | { type: 'GateOpened' | 'GateClosed'; data: { seen: number } }
  | { type: 'Audited'; data: { approvals: number; openGates: string[]; seen: number } };

export abstract class GateCommand implements CommandLogic<GateView, GateEvent> {
  initialState(): GateView {
    return { seen: 0, approvals: 0, gates: {}, mentioned: [] };
  }

  apply(state: GateView, event: RecordedEvent<GateEvent>): GateView {
    const seen = state.seen + 1;
    switch (event.type) {
      case 'Approved':
        return {
          ...state,
          seen,
          approvals: state.approvals + 1,
          mentioned: [...state.mentioned, event.data.gate],
        };
      case 'GateOpened':
      case 'GateClosed':
        return {
          ...state,
          seen,
          gates: { ...state.gates, [event.streamId]: event.type === 'GateOpened' },
        };
      default:
        return { ...state, seen };
    }
  }

  abstract handle(state: GateView, ctx: CommandContext<GateEvent>): void;
}

/** Approves on a ledger if the gate named in its input is open: discovery from input. */
@Command({ name: 'DifferentialApprove' })
class Approve extends GateCommand {
  @Stream() ledger: StreamId;
  @IsString() gate: string;

  constructor(ledger: string, gate: string) {
    super();
    this.ledger = ledger as StreamId;
    this.gate = gate;
  }

  handle(state: GateView, ctx: CommandContext<GateEvent, Approve>): void {
    ctx.discover(this.gate as StreamId);
    ctx.require(state.gates[this.gate] !== false, `gate ${this.gate} is closed`, 'gate.closed');
    ctx.emit('ledger', {
      type: 'Approved',
      data: { gate: this.gate, approvalsBefore: state.approvals, seen: state.seen },
    });
  }
}

/** Opens or closes a gate; a no-op when it already is. */
@Command({ name: 'DifferentialToggle' })
class Toggle extends GateCommand {
  @Stream() gate: StreamId;
  @IsBoolean() open: boolean;

  constructor(gate: string, open: boolean) {
    super();
    this.gate = gate as StreamId;
    this.open = open;
  }

  handle(state: GateView, ctx: CommandContext<GateEvent, Toggle>): void {
    if ((state.gates[this.gate] ?? true) === this.open) return;
    ctx.emit('gate', {
      type: this.open ? 'GateOpened' : 'GateClosed',
      data: { seen: state.seen },
    });
  }
}

/** Audits several ledgers (an array property) and every gate they mention: discovery from state. */
@Command({ name: 'DifferentialAudit' })
class Audit extends GateCommand {
  @Stream() ledgers: StreamId[];

  constructor(ledgers: readonly string[]) {
    super();
    this.ledgers = [...ledgers] as StreamId[];
  }

  handle(state: GateView, ctx: CommandContext<GateEvent, Audit>): void {
    ctx.discover(...(state.mentioned as StreamId[]));
    const openGates = Object.keys(state.gates)
      .filter((gate) => state.gates[gate])
      .sort();
    for (const ledger of this.ledgers) {
      ctx.emitTo(ledger, {
        type: 'Audited',
        data: { approvals: state.approvals, openGates, seen: state.seen },
      });
    }
  }
}

/** One generated command, by stream indexes, so that it can be built for any run's stream names. */
export type CommandSpec =
  | { kind: 'approve'; ledger: number; gate: number }
  | { kind: 'toggle'; gate: number; open: boolean }
  | { kind: 'audit'; ledgers: number[] };

const LEDGERS = 3;
const GATES = 4;

export const commandSpec: fc.Arbitrary<CommandSpec> = fc.oneof(
  fc.record({
    kind: fc.constant('approve' as const),
    ledger: fc.nat(LEDGERS - 1),
    gate: fc.nat(GATES - 1),
  }),
  fc.record({ kind: fc.constant('toggle' as const), gate: fc.nat(GATES - 1), open: fc.boolean() }),
  fc.record({
    kind: fc.constant('audit' as const),
    ledgers: fc.uniqueArray(fc.nat(LEDGERS - 1), { minLength: 1, maxLength: LEDGERS }),
  }),
);

/** Stream names of one property run; unique per run so that runs can share a store. */
export class RunStreams {
  constructor(private readonly prefix: string) {}

  ledger(i: number): string {
    return `${this.prefix}ledger-${i}`;
  }

  gate(i: number): string {
    return `${this.prefix}gate-${i}`;
  }

  all(): StreamId[] {
    const ids: string[] = [];
    for (let i = 0; i < LEDGERS; i++) ids.push(this.ledger(i));
    for (let i = 0; i < GATES; i++) ids.push(this.gate(i));
    return ids as StreamId[];
  }

  command(spec: CommandSpec): GateCommand {
    switch (spec.kind) {
      case 'approve':
        return new Approve(this.ledger(spec.ledger), this.gate(spec.gate));
      case 'toggle':
        return new Toggle(this.gate(spec.gate), spec.open);
      case 'audit':
        return new Audit(spec.ledgers.map((i) => this.ledger(i)));
    }
  }
}

/** Seeded event ids: UUIDv7-shaped, unique per run and per executor, identical between twins. */
export function seededIds(run: number): () => string {
  let counter = 0;
  return () => {
    const n = (run * 1_000_000 + ++counter).toString(16).padStart(12, '0');
    return `01890000-0000-7000-8000-${n}`;
  };
}

/** A command's outcome, without what legitimately differs between runs (positions, ids). */
export type Outcome =
  | { ok: true; events: unknown[]; streamVersions: Record<string, number> }
  | { ok: false; code: string };

export function outcomeOf(result: CommandResult<GateEvent>): Outcome {
  return {
    ok: true,
    events: result.events.map((e) => ({ streamId: e.streamId, type: e.type, data: e.data })),
    streamVersions: result.streamVersions,
  };
}

export function failureOf(error: unknown): Outcome {
  if (!isEventCoreError(error)) throw error;
  return { ok: false, code: error.code };
}

/** The events of a run's streams in log order, as compared between the twins. */
export async function logOf(store: EventStore, streams: RunStreams): Promise<unknown[]> {
  const { events } = await store.readStreams(streams.all());
  return events.map((e) => ({
    id: e.id,
    streamId: e.streamId,
    version: e.streamVersion,
    type: e.type,
    data: e.data,
    occurredAt: e.occurredAt,
  }));
}

/** Told of every append that reached the store: its writes, and whether it succeeded. */
export type AppendObserver = (writes: readonly StreamWrite[], succeeded: boolean) => void;

/**
 * The store as seen through fast-check's scheduler: each read and append starts when the
 * scheduler releases it, so the scheduler picks the interleaving of concurrent commands (the
 * in-memory store runs each call atomically, so the order in which calls start is the interleaving).
 */
export function scheduledStore(
  s: fc.Scheduler,
  inner: EventStore,
  onAppend?: AppendObserver,
): EventStore {
  return {
    async readStreams(ids) {
      await s.schedule(Promise.resolve(), `read ${ids.join(',')}`);
      return inner.readStreams(ids);
    },
    async read(query, options) {
      await s.schedule(Promise.resolve(), `read ${JSON.stringify(query)}`);
      return inner.read(query, options);
    },
    async append(writes, options) {
      await s.schedule(Promise.resolve(), `append ${writes.map((w) => w.streamId).join(',')}`);
      try {
        const result = await inner.append(writes, options);
        onAppend?.(writes, true);
        return result;
      } catch (error) {
        onAppend?.(writes, false);
        throw error;
      }
    },
    readAll: (options) => inner.readAll(options),
    comparePositions: (a, b) => inner.comparePositions(a, b),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
}

/** Options of {@link stateCacheDifferentialSuite}. */
export interface StateCacheDifferentialOptions {
  /** Property runs of each test. @default 40 */
  readonly numRuns?: number;
  /**
   * Interleave the concurrent commands with fast-check's scheduler (deterministic, shrinkable).
   * Off, they run with the adapter's real concurrency. @default true
   */
  readonly scheduled?: boolean;
}

/**
 * Registers the differential tests of the state cache against stores made by `makeStore` (two per
 * run of the sequential test: one for the cache on, one off). Stream names are unique per run, so a
 * store may be shared between runs.
 */
export function stateCacheDifferentialSuite(
  name: string,
  makeStore: () => Promise<EventStore> | EventStore,
  options: StateCacheDifferentialOptions = {},
): void {
  const numRuns = options.numRuns ?? 40;
  let runs = 0;

  describe(`state cache differential: ${name}`, () => {
    let storeOn: EventStore;
    let storeOff: EventStore;
    let shared: EventStore;

    beforeAll(async () => {
      storeOn = await makeStore();
      storeOff = await makeStore();
      shared = await makeStore();
    });

    afterAll(async () => {
      await Promise.all([storeOn?.close(), storeOff?.close(), shared?.close()]);
    });

    it('run one after another with seeded ids and a manual clock, commands leave identical logs with the cache on and off', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(commandSpec, { minLength: 1, maxLength: 30 }), async (specs) => {
          const run = ++runs;
          const streams = new RunStreams(`d${run}-`);
          const twin = async (store: EventStore, cache: boolean) => {
            const clock = new ManualClock();
            const executor = new CommandExecutor(store, {
              stateCache: cache ? { maxEntries: 3 } : undefined,
              idGenerator: seededIds(run),
              clock,
              sleep: async () => undefined,
            });
            const outcomes: Outcome[] = [];
            for (const spec of specs) {
              clock.advance(1000);
              outcomes.push(
                await executor.execute(streams.command(spec)).then(outcomeOf, failureOf),
              );
            }
            return { outcomes, log: await logOf(store, streams) };
          };
          const withCache = await twin(storeOn, true);
          const withoutCache = await twin(storeOff, false);
          expect(withCache).toEqual(withoutCache);
        }),
        { numRuns },
      );
    });

    it('under concurrent writers, every decision made with the cache is the one made without it at the versions it was appended against', async () => {
      const concurrent = async (specs: readonly CommandSpec[], s: fc.Scheduler | undefined) => {
        const run = ++runs;
        const streams = new RunStreams(`c${run}-`);
        const store = s === undefined ? shared : scheduledStore(s, shared);
        // Two executors with their own caches: each one's entries go stale by the other's writes.
        const executors = [0, 1].map(
          (i) =>
            new CommandExecutor(store, {
              stateCache: { maxEntries: 3 },
              idGenerator: seededIds(run * 2 + i),
              random: () => 0.5,
              sleep: async () => undefined,
              retry: { maxAttempts: 50, initialDelayMs: 1, maxDelayMs: 1 },
            }),
        );
        const running = Promise.allSettled(
          specs.map((spec, i) => executors[i % 2]!.execute(streams.command(spec))),
        );
        const settled = s === undefined ? await running : await s.waitFor(running);
        const log = (await shared.readStreams(streams.all())).events;
        for (const [i, outcome] of settled.entries()) {
          if (outcome.status !== 'fulfilled' || outcome.value.events.length === 0) continue;
          const reference = await decideOnPrefix(log, outcome.value, streams.command(specs[i]!));
          expect({ command: specs[i], ...outcomeOf(outcome.value) }).toEqual({
            command: specs[i],
            ...reference,
          });
        }
      };
      if (options.scheduled === false) {
        await fc.assert(
          fc.asyncProperty(fc.array(commandSpec, { minLength: 2, maxLength: 12 }), (specs) =>
            concurrent(specs, undefined),
          ),
          { numRuns },
        );
      } else {
        await fc.assert(
          fc.asyncProperty(
            fc.scheduler(),
            fc.array(commandSpec, { minLength: 2, maxLength: 12 }),
            (s, specs) => concurrent(specs, s),
          ),
          { numRuns },
        );
      }
    });
  });
}

/**
 * Decides `command` without a cache on the log as it stood just before `result`'s append (every
 * stream the decision guarded had exactly those events then), in a fresh in-memory store.
 */
export async function decideOnPrefix(
  log: readonly RecordedEvent[],
  result: CommandResult<GateEvent>,
  command: GateCommand,
): Promise<Outcome> {
  const first = log.findIndex((e) => e.id === result.events[0]!.id);
  const prefix = new InMemoryEventStore();
  for (const event of log.slice(0, first)) {
    const write: StreamWrite = {
      streamId: event.streamId,
      expected: ExpectedVersion.any,
      events: [
        {
          id: event.id,
          type: event.type,
          data: event.data,
          metadata: event.metadata,
          occurredAt: event.occurredAt,
        },
      ],
    };
    await prefix.append([write]);
  }
  const executor = new CommandExecutor(prefix, { sleep: async () => undefined });
  return executor.execute(command).then(outcomeOf, failureOf);
}
