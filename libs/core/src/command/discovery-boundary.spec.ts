import { IsString } from 'class-validator';
import type { RecordedEvent } from '../events/event';
import { BusinessRuleViolationError } from '../errors';
import type { StreamId } from '../store/stream-id';
import { seed, SpyStore } from './__fixtures__/bank.commands';
import { Command, Stream } from './command.decorators';
import { CommandExecutor } from './command-executor';
import type { CommandContext, CommandLogic } from './command-logic';

/** Gates, and ledgers whose last `Pointed` event names a gate. */
interface View {
  readonly seen: number;
  readonly open: Readonly<Record<string, boolean>>;
  readonly pointer: string | undefined;
}

type ViewEvent =
  | { type: 'GateOpened' | 'GateClosed'; data: Record<string, never> }
  | { type: 'Pointed'; data: { gate: string } }
  | { type: 'Approved' | 'Checked' | 'Reserved'; data: { seen: number } };

abstract class ViewCommand implements CommandLogic<View, ViewEvent> {
  initialState(): View {
    return { seen: 0, open: {}, pointer: undefined };
  }

  apply(state: View, event: RecordedEvent<ViewEvent>): View {
    const seen = state.seen + 1;
    if (event.type === 'GateOpened' || event.type === 'GateClosed')
      return {
        ...state,
        seen,
        open: { ...state.open, [event.streamId]: event.type === 'GateOpened' },
      };
    if (event.type === 'Pointed') return { ...state, seen, pointer: event.data.gate };
    return { ...state, seen };
  }

  abstract handle(state: View, ctx: CommandContext<ViewEvent>): void;
}

/** The example: discovers the gate named in its input, and refuses when it is closed. */
@Command()
class Approve extends ViewCommand {
  @Stream() ledger: StreamId;
  @IsString() gate: string;

  constructor(ledger: string, gate: string) {
    super();
    this.ledger = ledger as StreamId;
    this.gate = gate;
  }

  handle(state: View, ctx: CommandContext<ViewEvent, Approve>): void {
    ctx.discover(this.gate as StreamId);
    ctx.require(state.open[this.gate] === true, `gate ${this.gate} is closed`, 'gate.closed');
    ctx.emit('ledger', { type: 'Approved', data: { seen: state.seen } });
  }
}

/** Discovers the gate its ledger points to: the boundary depends on the ledger's state. */
@Command()
class FollowPointer extends ViewCommand {
  @Stream() ledger: StreamId;

  constructor(ledger: string) {
    super();
    this.ledger = ledger as StreamId;
  }

  handle(state: View, ctx: CommandContext<ViewEvent, FollowPointer>): void {
    if (state.pointer !== undefined) ctx.discover(state.pointer as StreamId);
    ctx.emit('ledger', { type: 'Checked', data: { seen: state.seen } });
  }
}

/** Declares only its own order stream and discovers the product named in its input. */
@Command()
class Reserve extends ViewCommand {
  @Stream() order: StreamId;
  @IsString() product: string;

  constructor(order: string, product: string) {
    super();
    this.order = order as StreamId;
    this.product = product;
  }

  handle(state: View, ctx: CommandContext<ViewEvent, Reserve>): void {
    ctx.discover(this.product as StreamId);
    ctx.emitTo(this.product as StreamId, { type: 'Reserved', data: { seen: state.seen } });
    ctx.emit('order', { type: 'Reserved', data: { seen: state.seen } });
  }
}

describe('discovery and the consistency boundary', () => {
  it('with the state cache, a decision never rests on streams an earlier instance discovered', async () => {
    const store = new SpyStore();
    await seed(store, 'gate-a', { type: 'GateOpened', data: {} });
    await seed(store, 'gate-b', { type: 'GateClosed', data: {} });
    await seed(store, 'gate-c', { type: 'GateOpened', data: {} });
    const executor = new CommandExecutor(store, { stateCache: { maxEntries: 10 } });

    const first = await executor.execute(new Approve('ledger-1', 'gate-a'));
    expect(first.streamVersions).toEqual({ 'ledger-1': 1, 'gate-a': 1 });

    // Same class, same declared stream, another gate: decided on [ledger-1, gate-b] alone.
    const second = executor.execute(new Approve('ledger-1', 'gate-b'));
    await expect(second).rejects.toMatchObject({ rule: 'gate.closed' });
    await expect(second).rejects.toBeInstanceOf(BusinessRuleViolationError);

    const third = await executor.execute(new Approve('ledger-1', 'gate-c'));
    expect(third.streamVersions).toEqual({ 'ledger-1': 2, 'gate-c': 1 });
    expect(third.events[0]!.data).toEqual({ seen: 2 }); // ledger-1's approval and gate-c's opening
  });

  it('a stream that moves between rounds of discovery makes the decision start again from its declared streams', async () => {
    const store = new SpyStore();
    await seed(store, 'ledger-1', { type: 'Pointed', data: { gate: 'gate-a' } });
    await seed(store, 'gate-a', { type: 'GateOpened', data: {} });
    await seed(store, 'gate-b', { type: 'GateOpened', data: {} });
    store.reset();
    // Another writer repoints the ledger after the first read (ledger only) of the first attempt.
    store.hooks.afterRead = async (_ids, call) => {
      if (call === 1)
        await seed(store.inner, 'ledger-1', { type: 'Pointed', data: { gate: 'gate-b' } });
    };
    const executor = new CommandExecutor(store, { sleep: async () => undefined });

    const result = await executor.execute(new FollowPointer('ledger-1'));

    // Decided on the ledger and the gate it points to now, as a fresh command would be; gate-a,
    // discovered from the ledger's older state, is not part of the boundary.
    expect(result.streamVersions).toEqual({ 'ledger-1': 3, 'gate-b': 1 });
    expect(result.events[0]!.data).toEqual({ seen: 3 });
    expect(result.attempts).toBe(2);
  });

  it('commands of one executor that discover the same stream take turns instead of conflicting', async () => {
    const store = new SpyStore();
    const conflicts: unknown[] = [];
    const executor = new CommandExecutor(store, { sleep: async () => undefined });
    const orders = Array.from({ length: 24 }, (_, i) =>
      executor.execute(new Reserve(`order-${i}`, 'product-1')).catch((error: unknown) => {
        conflicts.push(error);
        throw error;
      }),
    );
    const results = await Promise.all(orders);

    expect(results.map((r) => r.attempts)).toEqual(results.map(() => 1));
    expect(conflicts).toEqual([]);
    const product = await store.readStreams(['product-1' as StreamId]);
    expect(product.versions.get('product-1' as StreamId)).toBe(24);
    // Each appended once: no append was refused for a conflict.
    expect(store.appends).toHaveLength(24);
  });
});
