import 'reflect-metadata';
import {
  Command,
  type CommandContext,
  CommandExecutor,
  type CommandLogic,
  ExpectedVersion,
  InMemoryEventStore,
  newEventId,
  type RecordedEvent,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { IsInt, IsPositive } from 'class-validator';
import { runConcurrently, type Scenario } from './harness';

type Moved = { type: 'Deposited' | 'Withdrawn'; data: { amount: number } };

@Command({ name: 'BenchDeposit' })
export class BenchDeposit implements CommandLogic<number, Moved> {
  @Stream() account: StreamId;
  @IsInt() @IsPositive() amount: number;
  constructor(account: StreamId, amount: number) {
    this.account = account;
    this.amount = amount;
  }
  initialState(): number {
    return 0;
  }
  apply(balance: number, event: RecordedEvent<Moved>): number {
    return event.type === 'Deposited' ? balance + event.data.amount : balance - event.data.amount;
  }
  handle(_balance: number, ctx: CommandContext<Moved, BenchDeposit>): void {
    ctx.emit('account', { type: 'Deposited', data: { amount: this.amount } });
  }
}

@Command({ name: 'BenchDepositUnvalidated', validate: false })
export class BenchDepositUnvalidated extends BenchDeposit {}

@Command({ name: 'BenchTransfer' })
export class BenchTransfer implements CommandLogic<Record<string, number>, Moved> {
  @Stream() from: StreamId;
  @Stream() to: StreamId;
  @IsInt() @IsPositive() amount: number;
  constructor(from: StreamId, to: StreamId, amount: number) {
    this.from = from;
    this.to = to;
    this.amount = amount;
  }
  initialState(): Record<string, number> {
    return {};
  }
  apply(state: Record<string, number>, event: RecordedEvent<Moved>): Record<string, number> {
    const delta = event.type === 'Deposited' ? event.data.amount : -event.data.amount;
    state[event.streamId] = (state[event.streamId] ?? 0) + delta;
    return state;
  }
  handle(_state: Record<string, number>, ctx: CommandContext<Moved, BenchTransfer>): void {
    ctx.emit('from', { type: 'Withdrawn', data: { amount: this.amount } });
    ctx.emit('to', { type: 'Deposited', data: { amount: this.amount } });
  }
}

const ACCOUNTS = 1_000;
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => streamId(`account-${i}`));

function event(amount: number) {
  return {
    id: newEventId(),
    type: 'Deposited',
    data: { amount },
    metadata: { correlationId: 'bench', causationId: 'bench', userId: null, custom: {} },
    occurredAt: new Date().toISOString(),
  };
}

/** Commands against the in-memory store: one stream per account, as a real app would have. */
function commandScenario(
  name: string,
  make: (i: number) => CommandLogic<unknown, Moved>,
): Scenario {
  let executor: CommandExecutor | undefined;
  return {
    name,
    unit: 'commands/s',
    concurrency: 1,
    async setup() {
      executor = new CommandExecutor(new InMemoryEventStore(), {
        stateCache: { maxEntries: 10_000 },
      });
    },
    async run(quick) {
      const n = quick ? 5_000 : 50_000;
      for (let i = 0; i < n; i++) await executor!.execute(make(i));
      return n;
    },
    async teardown() {
      executor = undefined; // let its store go: later scenarios should not run on a bigger heap
    },
  };
}

/** The in-memory scenarios of `npm run bench`. */
export function memoryScenarios(): Scenario[] {
  return [
    commandScenario('memory.command.single', (i) => new BenchDeposit(accounts[i % ACCOUNTS]!, 1)),
    commandScenario(
      'memory.command.single_unvalidated',
      (i) => new BenchDepositUnvalidated(accounts[i % ACCOUNTS]!, 1),
    ),
    commandScenario(
      'memory.command.transfer',
      (i) => new BenchTransfer(accounts[i % ACCOUNTS]!, accounts[(i + 1) % ACCOUNTS]!, 1),
    ),
    (() => {
      let store: InMemoryEventStore | undefined;
      let batch = 0;
      return {
        name: 'memory.append.batch1000',
        unit: 'events/s',
        concurrency: 1,
        async setup() {
          store = new InMemoryEventStore();
        },
        async run(quick: boolean) {
          const batches = quick ? 20 : 200;
          for (let b = 0; b < batches; b++) {
            const events = Array.from({ length: 1_000 }, (_, i) => event(i + 1));
            await store!.append([
              {
                streamId: streamId(`batch-${batch++}`),
                expected: ExpectedVersion.noStream,
                events,
              },
            ]);
          }
          return batches * 1_000;
        },
        async teardown() {
          store = undefined;
        },
      } satisfies Scenario;
    })(),
    (() => {
      const store = new InMemoryEventStore();
      const stream = streamId('long-stream');
      const command = new BenchDeposit(stream, 1);
      return {
        name: 'memory.fold.100k',
        unit: 'events/s',
        concurrency: 1,
        async setup() {
          for (let b = 0; b < 100; b++) {
            const events = Array.from({ length: 1_000 }, (_, i) => event(i + 1));
            await store.append([{ streamId: stream, expected: ExpectedVersion.any, events }]);
          }
        },
        async run(quick: boolean) {
          const reads = quick ? 3 : 20;
          let total = 0;
          for (let r = 0; r < reads; r++) {
            const { events } = await store.readStreams([stream]);
            let state = command.initialState();
            for (const e of events) state = command.apply(state, e as RecordedEvent<Moved>);
            if (state <= 0) throw new Error('fold went wrong');
            total += events.length;
          }
          return total;
        },
      } satisfies Scenario;
    })(),
  ];
}

export { runConcurrently };
