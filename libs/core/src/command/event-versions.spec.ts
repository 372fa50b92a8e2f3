import 'reflect-metadata';
import { testEvent } from '@eventcore/core/testing';
import { ErrorCodes } from '../errors';
import type { RecordedEvent } from '../events/event';
import { EventTypeRegistry } from '../events/event-type-registry';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { ExpectedVersion } from '../store/expected-version';
import { type StreamId, streamId } from '../store/stream-id';
import { Command, Stream } from './command.decorators';
import { CommandExecutor } from './command-executor';
import type { CommandContext, CommandLogic } from './command-logic';

type Deposited = { type: 'Deposited'; data: { cents: number; currency: string } };

@Command({ validate: false })
class AddInterest implements CommandLogic<number, Deposited> {
  @Stream() account: StreamId = streamId('account-1');
  initialState(): number {
    return 0;
  }
  apply(total: number, event: RecordedEvent<Deposited>): number {
    if (event.data.currency !== 'EUR') throw new Error('fold saw an old shape');
    return total + event.data.cents;
  }
  handle(total: number, ctx: CommandContext<Deposited, AddInterest>): void {
    ctx.emit('account', {
      type: 'Deposited',
      data: { cents: Math.round(total / 10), currency: 'EUR' },
    });
  }
}

const registry = (failing = false) =>
  new EventTypeRegistry([
    {
      type: 'Deposited',
      version: 3,
      upcasters: {
        1: (d) => ({ cents: (d as { amount: number }).amount * 100 }),
        2: (d) => {
          if (failing) throw new Error('cannot guess the currency');
          return { ...(d as object), currency: 'EUR' };
        },
      },
    },
  ]);

async function storeWithThreeVersions(): Promise<InMemoryEventStore> {
  const store = new InMemoryEventStore();
  await store.append([
    {
      streamId: streamId('account-1'),
      expected: ExpectedVersion.noStream,
      events: [
        testEvent('Deposited', { amount: 1 }, { schemaVersion: 1 }),
        testEvent('Deposited', { cents: 200 }, { schemaVersion: 2 }),
        testEvent('Deposited', { cents: 300, currency: 'EUR' }, { schemaVersion: 3 }),
      ],
    },
  ]);
  return store;
}

describe('CommandExecutor with event versions', () => {
  it('folds old versions upcast to the current shape and writes new events at the current version', async () => {
    const store = await storeWithThreeVersions();
    const result = await new CommandExecutor(store, { events: registry() }).execute(
      new AddInterest(),
    );
    expect(result.events[0]).toMatchObject({
      schemaVersion: 3,
      data: { cents: 60, currency: 'EUR' },
    });
  });

  it('fails with EventDecodeError naming the event when an upcaster throws, writing nothing', async () => {
    const store = await storeWithThreeVersions();
    const [first] = (await store.readStreams([streamId('account-1')])).events;
    const error = await new CommandExecutor(store, { events: registry(true) })
      .execute(new AddInterest())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCodes.eventDecode,
      eventId: first!.id,
      streamId: 'account-1',
      eventType: 'Deposited',
      storedVersion: 1,
    });
    expect(
      (await store.readStreams([streamId('account-1')])).versions.get(streamId('account-1')),
    ).toBe(3);
  });
});
