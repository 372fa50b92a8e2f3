import 'reflect-metadata';
import { Command, Stream } from '../command/command.decorators';
import { CommandExecutor } from '../command/command-executor';
import type { CommandContext, CommandLogic } from '../command/command-logic';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { InMemoryCheckpointStore } from '../projection/checkpoint-store';
import { InMemoryProjectionLock } from '../projection/projection-lock';
import { ProjectionWorker } from '../projection/projection-worker';
import { type StreamId, streamId } from '../store/stream-id';
import { processManagerHandler } from './process-manager';

type Ev =
  { type: 'Deposited'; data: { amount: number } } | { type: 'Flagged'; data: { amount: number } };

@Command()
class Deposit implements CommandLogic<null, Ev> {
  @Stream() account: StreamId;
  constructor(
    account: string,
    readonly amount: number,
  ) {
    this.account = streamId(account);
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_: null, ctx: CommandContext<Ev, Deposit>): void {
    ctx.emit('account', { type: 'Deposited', data: { amount: this.amount } });
  }
}

@Command({ validate: false })
class Flag implements CommandLogic<null, Ev> {
  @Stream() review: StreamId;
  constructor(
    account: string,
    readonly amount: number,
  ) {
    this.review = streamId(`review-${account}`);
  }
  initialState(): null {
    return null;
  }
  apply(): null {
    return null;
  }
  handle(_: null, ctx: CommandContext<Ev, Flag>): void {
    ctx.emit('review', { type: 'Flagged', data: { amount: this.amount } });
  }
}

describe('processManagerHandler', () => {
  const store = new InMemoryEventStore();
  const executor = new CommandExecutor(store, { validate: false });
  const handler = processManagerHandler('large-deposits', executor, async (event, ctx) => {
    const amount = (event.data as { amount: number }).amount;
    if (event.type === 'Deposited' && amount > 1_000)
      await ctx.execute(new Flag(event.streamId, amount));
  });

  it('issues commands whose events carry the correlation id and the triggering event as causation', async () => {
    const deposit = await executor.execute(new Deposit('acc-1', 5_000), {
      correlationId: 'req-1',
      userId: 'u-9',
    });
    const trigger = deposit.events[0]!;
    await handler.handle(trigger, { tx: undefined });
    const review = await store.readStreams([streamId('review-acc-1')]);
    expect(review.events).toHaveLength(1);
    expect(review.events[0]!.metadata).toMatchObject({
      correlationId: 'req-1',
      causationId: trigger.id,
      userId: 'u-9',
    });
  });

  it('re-executes nothing when the same event is delivered again', async () => {
    const deposit = await executor.execute(new Deposit('acc-2', 2_000));
    await handler.handle(deposit.events[0]!, { tx: undefined });
    await handler.handle(deposit.events[0]!, { tx: undefined });
    expect((await store.readStreams([streamId('review-acc-2')])).events).toHaveLength(1);
  });

  it('runs in a projection worker: every large deposit is flagged once', async () => {
    const own = new InMemoryEventStore();
    const ownExecutor = new CommandExecutor(own, { validate: false });
    const worker = new ProjectionWorker(
      { name: 'large-deposits', filter: { eventTypes: ['Deposited'] }, pollIntervalMs: 10 },
      processManagerHandler('large-deposits', ownExecutor, async (event, ctx) => {
        const amount = (event.data as { amount: number }).amount;
        if (amount > 1_000) await ctx.execute(new Flag(event.streamId, amount));
      }),
      {
        store: own,
        checkpoints: new InMemoryCheckpointStore(),
        lock: new InMemoryProjectionLock(),
      },
    );
    worker.start();
    for (let i = 0; i < 20; i++)
      await ownExecutor.execute(new Deposit(`acc-${i % 4}`, i % 2 === 0 ? 5_000 : 10));
    const deadline = Date.now() + 5_000;
    while (
      (await own.readAll({ limit: 1_000, filter: { eventTypes: ['Flagged'] } })).events.length < 10
    ) {
      if (Date.now() > deadline) throw new Error('timed out waiting for 10 flags');
      await new Promise((r) => setTimeout(r, 5));
    }
    await worker.stop();
    const flags = await own.readAll({ limit: 1_000, filter: { eventTypes: ['Flagged'] } });
    expect(flags.events).toHaveLength(10);
  });
});
