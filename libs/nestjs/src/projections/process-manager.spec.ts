import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Command,
  type CommandContext,
  type CommandLogic,
  EventTypeRegistry,
  ExpectedVersion,
  InMemoryEventStore,
  type ReactionContext,
  type RecordedEvent,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import { CommandBus } from '../command-bus';
import { EventCoreModule } from '../eventcore.module';
import { ProcessManagerHost } from './process-manager.host';
import { ProcessManager } from './projection.decorator';

type Ev =
  { type: 'Deposited'; data: { cents: number } } | { type: 'Flagged'; data: { cents: number } };

@Command({ validate: false })
class Deposit implements CommandLogic<null, Ev> {
  @Stream() account: StreamId;
  constructor(
    account: string,
    readonly cents: number,
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
    ctx.emit('account', { type: 'Deposited', data: { cents: this.cents } });
  }
}

@Command({ validate: false })
class Flag implements CommandLogic<null, Ev> {
  @Stream() review: StreamId;
  constructor(
    account: string,
    readonly cents: number,
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
    ctx.emit('review', { type: 'Flagged', data: { cents: this.cents } });
  }
}

/** Flags large deposits; Deposited is at schema version 2 (v1 stored `amount` in units). */
@ProcessManager({ name: 'large-deposits', eventTypes: ['Deposited'], pollIntervalMs: 10 })
class LargeDeposits extends ProcessManagerHost {
  async react(event: RecordedEvent<Ev>, ctx: ReactionContext): Promise<void> {
    if (event.data.cents > 100_000) await ctx.execute(new Flag(event.streamId, event.data.cents));
  }
}

@Module({ providers: [LargeDeposits] })
class ComplianceModule {}

async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('@ProcessManager', () => {
  it('reacts to events with commands carrying correlation and causation, upcasting old versions', async () => {
    const store = new InMemoryEventStore();
    // An old v1 event already in the log: { amount } in units.
    await store.append([
      {
        streamId: streamId('acc-old'),
        expected: ExpectedVersion.any,
        events: [testEvent('Deposited', { amount: 5_000 }, { schemaVersion: 1 })],
      },
    ]);
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({
          eventStore: store,
          events: new EventTypeRegistry([
            {
              type: 'Deposited',
              version: 2,
              upcasters: { 1: (d) => ({ cents: (d as { amount: number }).amount * 100 }) },
            },
          ]),
        }),
        ComplianceModule,
      ],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    try {
      const bus = app.get(CommandBus);
      const small = await bus.execute(new Deposit('acc-1', 10));
      const large = await bus.execute(new Deposit('acc-1', 200_000), {
        correlationId: 'req-7',
        userId: 'u-1',
      });
      expect(small.events[0]!.schemaVersion).toBe(2);
      const flags = async () =>
        (await store.readAll({ limit: 100, filter: { eventTypes: ['Flagged'] } })).events;
      await until(async () => (await flags()).length === 2);
      const [old, fresh] = await flags();
      expect(old!.streamId).toBe('review-acc-old');
      expect(old!.data).toEqual({ cents: 500_000 });
      expect(fresh!.metadata).toMatchObject({
        correlationId: 'req-7',
        causationId: large.events[0]!.id,
        userId: 'u-1',
      });
    } finally {
      await app.close();
    }
  });
});
