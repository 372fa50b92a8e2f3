/**
 * A differential property suite for persisted snapshots (DESIGN §2 and §10, "snapshots never
 * change a decision"): the random commands of the state-cache suite — discovery from input and
 * from state, an array `@Stream()` property — decide identically with snapshots (state cache off,
 * so every command loads through them) and without, on any adapter.
 */
import fc from 'fast-check';
import { CommandExecutor } from '../command/command-executor';
import type { SnapshotProblem } from '../snapshot/snapshot-options';
import type { SnapshotStore } from '../snapshot/snapshot-store';
import type { EventStore } from '../store/event-store';
import { ManualClock } from './manual-clock';
import {
  commandSpec,
  type CommandSpec,
  decideOnPrefix,
  failureOf,
  logOf,
  type Outcome,
  outcomeOf,
  RunStreams,
  scheduledStore,
  seededIds,
} from './state-cache.differential';

/** Six toggles of one gate, each undoing the one before: the sequential test's fixed example. */
const TOGGLES: CommandSpec[] = [true, false, true, false, true, false].map((open) => ({
  kind: 'toggle',
  gate: 0,
  open,
}));

/** An event store and a snapshot store over it. */
export interface SnapshotStores {
  readonly events: EventStore;
  /** Snapshots over `events` (or over the store `events` wraps, for the scheduled test). */
  readonly snapshots: SnapshotStore;
}

/** Options of {@link snapshotDifferentialSuite}. */
export interface SnapshotDifferentialOptions {
  /** Property runs of each test. @default 40 */
  readonly numRuns?: number;
  /**
   * Interleave the concurrent commands with fast-check's scheduler; off, they run with the
   * adapter's real concurrency. @default true
   */
  readonly scheduled?: boolean;
}

/**
 * Registers the differential tests of persisted snapshots. `makeStores(events?)` makes an event
 * store and a snapshot store over it; given `events` (a scheduled view of an event store it made
 * before), it makes a snapshot store that reads through that view. Stream names are unique per run,
 * so stores may be shared between runs.
 */
export function snapshotDifferentialSuite(
  name: string,
  makeStores: (events?: EventStore) => Promise<SnapshotStores> | SnapshotStores,
  options: SnapshotDifferentialOptions = {},
): void {
  const numRuns = options.numRuns ?? 40;
  let runs = 0;

  describe(`snapshot differential: ${name}`, () => {
    let withSnapshots: SnapshotStores;
    let without: SnapshotStores;
    let shared: SnapshotStores;
    const problems: SnapshotProblem[] = [];

    beforeAll(async () => {
      withSnapshots = await makeStores();
      without = await makeStores();
      shared = await makeStores();
    });

    afterAll(async () => {
      await Promise.all([
        withSnapshots?.events.close(),
        without?.events.close(),
        shared?.events.close(),
      ]);
    });

    afterEach(() => {
      // Every state of these commands is plain JSON, every snapshot decodes: nothing to report.
      expect(problems).toEqual([]);
    });

    it('run one after another, commands leave identical logs with snapshots (cache off) and without', async () => {
      let loaded = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(commandSpec, { minLength: 1, maxLength: 30 }), async (specs) => {
          const run = ++runs;
          const streams = new RunStreams(`s${run}-`);
          const twin = async (stores: SnapshotStores, snapshots: boolean) => {
            const clock = new ManualClock();
            const counting = countingHits(stores.snapshots, () => loaded++);
            const executor = new CommandExecutor(stores.events, {
              idGenerator: seededIds(run),
              clock,
              sleep: async () => undefined,
              snapshots: snapshots
                ? { store: counting, every: 2, keep: 2, report: (p) => problems.push(p) }
                : undefined,
            });
            const outcomes: Outcome[] = [];
            for (const spec of specs) {
              clock.advance(1000);
              outcomes.push(
                await executor.execute(streams.command(spec)).then(outcomeOf, failureOf),
              );
              // Written in the background: let the next command find it.
              await executor.flushSnapshots();
            }
            await executor.close();
            return { outcomes, log: await logOf(stores.events, streams) };
          };
          const snapshotted = await twin(withSnapshots, true);
          const plain = await twin(without, false);
          expect(snapshotted).toEqual(plain);
        }),
        // One run that must decide on a snapshot, whatever the random ones draw: a gate toggled
        // on and off, so every command folds the events of the ones before it.
        { numRuns, examples: [[TOGGLES]] },
      );
      // The property is void if no command ever decided on a snapshot.
      expect(loaded).toBeGreaterThan(0);
    });

    it('under concurrent writers, every decision made on a snapshot is the one made without it at the versions it was appended against', async () => {
      let loaded = 0;
      const concurrent = async (specs: readonly CommandSpec[], s: fc.Scheduler | undefined) => {
        const run = ++runs;
        const streams = new RunStreams(`p${run}-`);
        const events = s === undefined ? shared.events : scheduledStore(s, shared.events);
        const snapshots = countingHits(
          s === undefined ? shared.snapshots : (await makeStores(events)).snapshots,
          () => loaded++,
        );
        // Two executors (two instances of an app) sharing the snapshots and racing on the streams.
        const executors = [0, 1].map(
          (i) =>
            new CommandExecutor(events, {
              idGenerator: seededIds(run * 2 + i),
              random: () => 0.5,
              sleep: async () => undefined,
              retry: { maxAttempts: 50, initialDelayMs: 1, maxDelayMs: 1 },
              snapshots: { store: snapshots, every: 1, report: (p) => problems.push(p) },
            }),
        );
        // A first round leaves snapshots behind; the second decides on them while racing.
        for (const round of [0, 1]) {
          const running = Promise.allSettled(
            specs.map((spec, i) => executors[(i + round) % 2]!.execute(streams.command(spec))),
          );
          const settled = s === undefined ? await running : await s.waitFor(running);
          await Promise.all(executors.map((executor) => executor.flushSnapshots()));
          const log = (await shared.events.readStreams(streams.all())).events;
          for (const [i, outcome] of settled.entries()) {
            if (outcome.status !== 'fulfilled' || outcome.value.events.length === 0) continue;
            const reference = await decideOnPrefix(log, outcome.value, streams.command(specs[i]!));
            expect({ command: specs[i], ...outcomeOf(outcome.value) }).toEqual({
              command: specs[i],
              ...reference,
            });
          }
        }
        await Promise.all(executors.map((executor) => executor.close()));
      };
      if (options.scheduled === false) {
        await fc.assert(
          fc.asyncProperty(fc.array(commandSpec, { minLength: 2, maxLength: 10 }), (specs) =>
            concurrent(specs, undefined),
          ),
          { numRuns },
        );
      } else {
        await fc.assert(
          fc.asyncProperty(
            fc.scheduler(),
            fc.array(commandSpec, { minLength: 2, maxLength: 10 }),
            (s, specs) => concurrent(specs, s),
          ),
          { numRuns },
        );
      }
      expect(loaded).toBeGreaterThan(0);
    });
  });
}

/** `store`, calling `onHit` for every load that found a snapshot. */
function countingHits(store: SnapshotStore, onHit: () => void): SnapshotStore {
  return {
    serializer: store.serializer,
    load: async (key) => {
      const load = await store.load(key);
      if (load.snapshot !== undefined) onHit();
      return load;
    },
    save: (snapshot) => store.save(snapshot),
    prune: (scope, keep) => store.prune(scope, keep),
  };
}
