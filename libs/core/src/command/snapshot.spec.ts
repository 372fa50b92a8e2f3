import type { RecordedEvent } from '../events/event';
import { EventTypeRegistry } from '../events/event-type-registry';
import { InvalidCommandError, InvalidOptionsError } from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { InMemorySnapshotStore } from '../memory/in-memory.snapshot-store';
import type { SnapshotOptions, SnapshotProblem } from '../snapshot/snapshot-options';
import type {
  CommandSnapshot,
  SnapshotKey,
  SnapshotLoad,
  SnapshotScope,
  SnapshotStore,
} from '../snapshot/snapshot-store';
import { ExpectedVersion } from '../store/expected-version';
import { type StreamId, streamId } from '../store/stream-id';
import { testEvent } from '../testing/event-store.contract';
import { item, query } from './boundary-query';
import { Boundary, Command, Stream } from './command.decorators';
import { CommandExecutor } from './command-executor';
import type { CommandContext, CommandLogic } from './command-logic';

type CountEvent = { type: 'Counted'; data: { before: number } };
type Count = { n: number };

abstract class Counting implements CommandLogic<Count, CountEvent> {
  @Stream() counter: StreamId;
  /** Streams the decision discovers (from input). */
  readonly extra: readonly StreamId[];

  constructor(counter: string, ...extra: string[]) {
    this.counter = counter as StreamId;
    this.extra = extra as StreamId[];
  }

  initialState(): Count {
    return { n: 0 };
  }

  apply(state: Count, _event: RecordedEvent<CountEvent>): Count {
    return { n: state.n + 1 };
  }

  handle(state: Count, ctx: CommandContext<CountEvent>): void {
    if (this.extra.length > 0) ctx.discover(...this.extra);
    ctx.emitTo(this.counter, { type: 'Counted', data: { before: state.n } });
  }
}

@Command({ name: 'Tally', snapshot: { every: 3 }, validate: false })
class Tally extends Counting {}

/** The same name under a new state version: Tally's snapshots are not its own. */
@Command({ name: 'Tally', snapshot: { every: 3, stateVersion: 2 }, validate: false })
class TallyV2 extends Counting {}

/** Covered by the module-wide policy only. */
@Command({ name: 'Plain', validate: false })
class Plain extends Counting {}

@Command({ name: 'OptedOut', snapshot: false, validate: false })
class OptedOut extends Counting {}

/** A state JSON cannot hold: a Map. */
@Command({ name: 'Mapped', snapshot: { every: 1 }, validate: false })
class Mapped implements CommandLogic<Map<string, number>, CountEvent> {
  @Stream() counter: StreamId;
  constructor(counter: string) {
    this.counter = counter as StreamId;
  }
  initialState() {
    return new Map<string, number>();
  }
  apply(state: Map<string, number>, event: RecordedEvent<CountEvent>) {
    return new Map(state).set(event.id, event.data.before);
  }
  handle(state: Map<string, number>, ctx: CommandContext<CountEvent, Mapped>): void {
    ctx.emit('counter', { type: 'Counted', data: { before: state.size } });
  }
}

/** The same state, with the conversion the docs tell users to write. */
@Command({ name: 'MappedConverted', snapshot: { every: 1 }, validate: false })
class MappedConverted extends Mapped {
  toSnapshot(state: Map<string, number>): unknown {
    return [...state];
  }
  fromSnapshot(data: unknown): Map<string, number> {
    return new Map(data as [string, number][]);
  }
}

/** A spy over the in-memory snapshot store; `hold` makes saves wait until released. */
class SpySnapshots implements SnapshotStore {
  readonly inner: InMemorySnapshotStore;
  readonly loads: { key: SnapshotKey; hit: boolean }[] = [];
  readonly saves: CommandSnapshot[] = [];
  failSaves = false;
  private held: (() => void)[] | undefined;

  constructor(readonly events: InMemoryEventStore) {
    this.inner = new InMemorySnapshotStore(events);
  }

  get serializer() {
    return this.inner.serializer;
  }

  async load(key: SnapshotKey): Promise<SnapshotLoad> {
    const load = await this.inner.load(key);
    this.loads.push({ key, hit: load.snapshot !== undefined });
    return load;
  }

  async save(snapshot: CommandSnapshot): Promise<void> {
    if (this.held !== undefined) await new Promise<void>((resolve) => this.held!.push(resolve));
    if (this.failSaves) throw new Error('disk full');
    this.saves.push(snapshot);
    await this.inner.save(snapshot);
  }

  prune(scope: SnapshotScope, keep: number): Promise<number> {
    return this.inner.prune(scope, keep);
  }

  hold(): void {
    this.held = [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const resolve of held) resolve();
  }
}

function setup(options: Partial<SnapshotOptions> & { stateCache?: boolean } = {}) {
  const events = new InMemoryEventStore();
  const snapshots = new SpySnapshots(events);
  const problems: SnapshotProblem[] = [];
  const { stateCache, ...rest } = options;
  const executor = new CommandExecutor(events, {
    stateCache: stateCache === true ? { maxEntries: 10 } : undefined,
    snapshots: { store: snapshots, report: (p) => problems.push(p), ...rest },
  });
  const run = async (command: object, times = 1) => {
    let last: unknown;
    for (let i = 0; i < times; i++) {
      last = (await executor.execute(command as Tally)).events[0]?.data;
      await executor.flushSnapshots();
    }
    return last;
  };
  return { events, snapshots, problems, executor, run };
}

describe('persisted snapshots in the executor', () => {
  it('a cold command decides on the newest snapshot plus the events after it', async () => {
    const { snapshots, run } = setup();
    await run(new Tally('t-1'), 5);
    // Saved once 3 events had been folded: after the 3rd command (2 read + its own).
    expect(snapshots.saves.map((s) => s.versions)).toEqual([[3]]);
    expect(await run(new Tally('t-1'))).toEqual({ before: 5 });
    expect(snapshots.loads.at(-1)).toEqual({ key: expect.anything(), hit: true });
  });

  it('is used only on a state-cache miss', async () => {
    const { snapshots, run } = setup({ stateCache: true });
    await run(new Tally('t-2'), 4);
    // The first command missed the cache; the next ones decided on cached states.
    expect(snapshots.loads).toHaveLength(1);
  });

  it('is written after the result, in the background, never awaited by the command', async () => {
    const { snapshots, executor, problems } = setup({ every: 1 });
    snapshots.hold();
    const result = await executor.execute(new Plain('t-3'));
    expect(result.events).toHaveLength(1);
    // The command returned while its snapshot waits.
    await executor.execute(new Plain('t-3'));
    expect(snapshots.saves).toHaveLength(0);
    snapshots.release();
    await executor.flushSnapshots();
    expect(snapshots.saves.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it('reports a failed save and never throws it to the command', async () => {
    const { snapshots, run, problems } = setup();
    snapshots.failSaves = true;
    await expect(run(new Tally('t-4'), 4)).resolves.toEqual({ before: 3 });
    expect(problems.map((p) => p.kind)).toContain('save-failed');
    expect(problems[0]!.message).toMatch(/could not be saved: disk full/);
  });

  it('drops and reports states beyond the bounded queue; close() drains the queue', async () => {
    const { snapshots, executor, problems } = setup({ every: 1, maxPending: 2 });
    snapshots.hold();
    for (let i = 0; i < 6; i++) await executor.execute(new Plain(`q-${i}`));
    expect(problems.filter((p) => p.kind === 'dropped').length).toBeGreaterThan(0);
    const closing = executor.close();
    snapshots.release();
    // Not released again: saves queued after the first wait on no one.
    await closing;
    expect(snapshots.saves.length).toBeGreaterThan(0);
    const saved = snapshots.saves.length;
    // Closed: commands still run, no snapshot is taken any more.
    await executor.execute(new Plain('q-after'));
    await executor.flushSnapshots();
    expect(snapshots.saves).toHaveLength(saved);
  });

  it('skips a state that does not survive the serializer round trip, and reports it once per class', async () => {
    const { snapshots, run, problems } = setup();
    await run(new Mapped('m-1'), 3);
    expect(snapshots.saves).toHaveLength(0);
    expect(problems.map((p) => [p.kind, p.commandName])).toEqual([['unserializable', 'Mapped']]);
    expect(problems[0]!.message).toMatch(/toSnapshot\(state\) and fromSnapshot\(data\)/);
  });

  it('snapshots such a state through toSnapshot/fromSnapshot, and decides on it', async () => {
    const { snapshots, run, problems } = setup();
    await run(new MappedConverted('m-2'), 3);
    expect(snapshots.saves.length).toBeGreaterThan(0);
    expect(await run(new MappedConverted('m-2'))).toEqual({ before: 3 });
    expect(snapshots.loads.at(-1)!.hit).toBe(true);
    expect(problems).toEqual([]);
  });

  it('ignores a snapshot of another state version', async () => {
    const { snapshots, run } = setup();
    await run(new Tally('v-1'), 4);
    expect(await run(new TallyV2('v-1'))).toEqual({ before: 4 });
    expect(snapshots.loads.at(-1)!.hit).toBe(false);
  });

  it('ignores a snapshot taken under other upcasters (fingerprint)', async () => {
    const events = new InMemoryEventStore();
    const snapshots = new SpySnapshots(events);
    const registry = (upcaster: (data: unknown) => unknown) =>
      new EventTypeRegistry([{ type: 'Counted', version: 2, upcasters: { 1: upcaster } }]);
    const before = new CommandExecutor(events, {
      snapshots: { store: snapshots },
      events: registry((data) => data),
    });
    for (let i = 0; i < 4; i++) {
      await before.execute(new Tally('f-1'));
      await before.flushSnapshots();
    }
    expect(snapshots.saves).toHaveLength(1);
    const after = new CommandExecutor(events, {
      snapshots: { store: snapshots },
      events: registry((data) => ({ ...(data as object), upgraded: true })),
    });
    await after.execute(new Tally('f-1'));
    expect(snapshots.loads.at(-1)!.hit).toBe(false);
    // The same registration again: the same fingerprint, the snapshot is used.
    const again = new CommandExecutor(events, {
      snapshots: { store: snapshots },
      events: registry((data) => data),
    });
    await again.execute(new Tally('f-1'));
    expect(snapshots.loads.at(-1)!.hit).toBe(true);
  });

  it('ignores and reports a snapshot that fails to decode, and decides on the full read', async () => {
    const { snapshots, run, problems } = setup();
    await run(new Tally('d-1'), 2);
    await snapshots.inner.save({
      commandName: 'Tally',
      boundary: [streamId('d-1')],
      versions: [2],
      stateVersion: 1,
      fingerprint: new EventTypeRegistry().fingerprint(),
      encoding: 'json',
      state: new TextEncoder().encode('{"n":'),
    });
    expect(await run(new Tally('d-1'))).toEqual({ before: 2 });
    expect(problems.map((p) => p.kind)).toEqual(['undecodable']);
    // The full fold wrote a good snapshot over the broken one: the next command uses it.
    expect(snapshots.saves.map((s) => s.versions)).toEqual([[3]]);
    expect(await run(new Tally('d-1'))).toEqual({ before: 3 });
    expect(snapshots.loads.at(-1)!.hit).toBe(true);
    expect(problems).toHaveLength(1);
  });

  it('never uses a snapshot ahead of its streams', async () => {
    const { snapshots, run } = setup();
    await run(new Tally('a-1'), 1);
    await snapshots.inner.save({
      commandName: 'Tally',
      boundary: [streamId('a-1')],
      versions: [7],
      stateVersion: 1,
      fingerprint: new EventTypeRegistry().fingerprint(),
      encoding: 'json',
      state: new TextEncoder().encode('{"n":7}'),
    });
    expect(await run(new Tally('a-1'))).toEqual({ before: 1 });
  });

  it('keeps the newest K snapshots per command and boundary', async () => {
    const { snapshots, run } = setup({ every: 1, keep: 2 });
    await run(new Plain('k-1'), 5);
    expect(snapshots.saves.length).toBeGreaterThan(2);
    expect(snapshots.inner.count({ commandName: 'Plain', boundary: [streamId('k-1')] })).toBe(2);
  });

  it('keys a snapshot by the exact boundary: a discovered stream makes another key', async () => {
    const { snapshots, run, events } = setup();
    await run(new Tally('x-1', 'x-gate'), 4);
    expect(snapshots.saves.map((s) => s.boundary)).toEqual([['x-1', 'x-gate']]);
    // Events in the discovered stream count in the wider boundary only.
    await events.append([
      {
        streamId: streamId('x-gate'),
        expected: ExpectedVersion.any,
        events: [testEvent('Counted')],
      },
    ]);
    expect(await run(new Tally('x-1', 'x-gate'))).toEqual({ before: 5 });
    expect(await run(new Tally('x-1'))).toEqual({ before: 5 });
  });

  it('follows the module-wide policy, per-class opt-out and threshold', async () => {
    const { snapshots, run } = setup({ every: 3 });
    await run(new Plain('p-1'), 2);
    expect(snapshots.saves).toHaveLength(0); // 1 folded + 1 written < 3
    await run(new Plain('p-1'));
    expect(snapshots.saves).toHaveLength(1);
    await run(new OptedOut('p-2'), 5);
    expect(snapshots.saves).toHaveLength(1);
    expect(snapshots.loads.map((l) => l.key.commandName)).not.toContain('OptedOut');
    // Without `every`, a class without its own option is not snapshotted.
    const opt = setup();
    await opt.run(new Plain('p-3'), 5);
    expect(opt.snapshots.loads).toHaveLength(0);
  });

  it('never snapshots a query command: opting one in is refused', async () => {
    @Command({ name: 'QueryTally', snapshot: { every: 1 }, validate: false })
    class QueryTally extends Counting {
      @Boundary()
      boundary() {
        return query(item({ types: ['Counted'] }));
      }
    }
    @Command({ name: 'QueryPlain', validate: false })
    class QueryPlain extends QueryTally {}
    const { executor, snapshots } = setup({ every: 1 });
    await expect(executor.execute(new QueryTally('qt-1'))).rejects.toThrow(InvalidCommandError);
    await expect(executor.execute(new QueryTally('qt-1'))).rejects.toThrow(
      /query commands are never snapshotted/,
    );
    await executor.execute(new QueryPlain('qt-2'));
    expect(snapshots.loads).toHaveLength(0);
  });

  it('refuses snapshots for a command whose state depends on its fields', async () => {
    @Command({ name: 'FieldTally', snapshot: {}, stateCache: false, validate: false })
    class FieldTally extends Counting {}
    const { executor } = setup();
    await expect(executor.execute(new FieldTally('ft-1'))).rejects.toThrow(/stateCache: false/);
  });

  it('validates its options', () => {
    const store = new InMemorySnapshotStore(new InMemoryEventStore());
    const make = (snapshots: unknown) =>
      new CommandExecutor(new InMemoryEventStore(), { snapshots: snapshots as SnapshotOptions });
    expect(() => make({})).toThrow(InvalidOptionsError);
    expect(() => make({ store, every: 0 })).toThrow(/snapshots.every/);
    expect(() => make({ store, keep: 1.5 })).toThrow(/snapshots.keep/);
    expect(() => make({ store, maxPending: -1 })).toThrow(/snapshots.maxPending/);
    expect(() => make({ store, report: 'log' })).toThrow(/snapshots.report/);
    expect(() => new InMemorySnapshotStore(undefined as never)).toThrow(InvalidOptionsError);
  });
});

describe('EventTypeRegistry.fingerprint', () => {
  it('changes with a type, a schema version or an upcaster, not with registration order', () => {
    const up = (data: unknown) => data;
    const a = new EventTypeRegistry([
      { type: 'A', version: 2, upcasters: { 1: up } },
      { type: 'B' },
    ]);
    const b = new EventTypeRegistry([
      { type: 'B' },
      { type: 'A', version: 2, upcasters: { 1: up } },
    ]);
    expect(a.fingerprint()).toBe(b.fingerprint());
    const other = new EventTypeRegistry([
      { type: 'A', version: 2, upcasters: { 1: (data) => ({ data }) } },
      { type: 'B' },
    ]);
    expect(other.fingerprint()).not.toBe(a.fingerprint());
    expect(new EventTypeRegistry([{ type: 'B' }]).fingerprint()).not.toBe(a.fingerprint());
    const growing = new EventTypeRegistry([{ type: 'B' }]);
    const first = growing.fingerprint();
    growing.register({ type: 'C' });
    expect(growing.fingerprint()).not.toBe(first);
  });
});
