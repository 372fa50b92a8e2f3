import type { INestApplication } from '@nestjs/common';
import { InMemoryEventStore, type RecordedEvent } from '@eventcore/core';
import { CommandBus } from '../command-bus';
import { Add, createTestApp, eventually } from './__fixtures__/projection-fixtures';
import { EventSubscriptions } from './event-subscriptions';

describe('EventSubscriptions', () => {
  let store: InMemoryEventStore;
  let app: INestApplication;
  let bus: CommandBus;
  let subscriptions: EventSubscriptions;

  beforeEach(async () => {
    store = new InMemoryEventStore();
    app = await createTestApp({ store, providers: [] });
    bus = app.get(CommandBus);
    subscriptions = app.get(EventSubscriptions);
    for (let i = 1; i <= 3; i++) await bus.execute(new Add('a', i));
  });

  afterEach(async () => {
    await app.close();
  });

  const collect = () => {
    const seen: number[] = [];
    return { seen, onEvent: (event: RecordedEvent) => void seen.push(event.globalPosition) };
  };

  it("from 'beginning' delivers the whole log, then what follows, and says when caught up", async () => {
    const { seen, onEvent } = collect();
    let caughtUp = 0;
    const sub = await subscriptions.subscribe({
      from: 'beginning',
      onEvent,
      onCaughtUp: () => void caughtUp++,
    });
    await eventually(() => seen.length === 3 && caughtUp >= 1, 'caught up');
    await bus.execute(new Add('a', 4));
    await eventually(() => seen.length === 4, 'the live event arrived');
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(sub.status()).toMatchObject({ name: 'subscription-1', state: 'live' });
    await sub.stop();
    await bus.execute(new Add('a', 5));
    expect(sub.status().state).toBe('stopped');
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it("from 'live' delivers only what is appended after subscribe returns", async () => {
    const { seen, onEvent } = collect();
    await subscriptions.subscribe({ name: 'live-only', from: 'live', onEvent });
    await bus.execute(new Add('a', 4));
    await bus.execute(new Add('b', 1, 'other-'));
    await eventually(() => seen.length === 2, 'both live events arrived');
    expect(seen).toEqual([4, 5]);
  });

  it('from a position, with a filter, delivers the matching events after it', async () => {
    const { seen, onEvent } = collect();
    const first = await bus.execute(new Add('a', 4));
    await bus.execute(new Add('x', 1, 'other-'));
    await bus.execute(new Add('a', 5));
    await subscriptions.subscribe({
      from: first.position,
      filter: { streamPrefixes: ['counter-'] },
      onEvent,
    });
    await eventually(() => seen.length === 1, 'the matching event arrived');
    await bus.execute(new Add('a', 6));
    await eventually(() => seen.length === 2, 'the live event arrived');
    expect(seen).toEqual([6, 7]);
  });

  it('refuses a position that is not from this store', async () => {
    await expect(
      subscriptions.subscribe({ from: '42' as never, onEvent: () => undefined }),
    ).rejects.toMatchObject({ code: 'eventcore.invalid_position' });
  });

  it('stops its subscriptions on application shutdown', async () => {
    const sub = await subscriptions.subscribe({ from: 'live', onEvent: () => undefined });
    await eventually(() => sub.status().state === 'live', 'live');
    await app.close();
    expect(sub.status().state).toBe('stopped');
    app = await createTestApp({ store, providers: [] });
  });
});
