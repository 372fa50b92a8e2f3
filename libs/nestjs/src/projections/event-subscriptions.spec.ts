import type { INestApplication } from '@nestjs/common';
import { ExpectedVersion, InMemoryEventStore, type RecordedEvent, streamId } from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
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

describe('EventSubscriptions with event types', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
  });

  it('hands over upcast events and never an undecodable one raw (EventDecodeError, then the policy)', async () => {
    const store = new InMemoryEventStore();
    await store.append([
      {
        streamId: streamId('doc-1'),
        expected: ExpectedVersion.any,
        events: [
          testEvent('Renamed', { title: 'first' }), // stored at version 1
          testEvent('Renamed', { oops: true }), // version 1, but the upcaster cannot read it
          testEvent('Renamed', { name: 'CURRENT' }, { schemaVersion: 2 }),
        ],
      },
    ]);
    app = await createTestApp({
      store,
      providers: [],
      events: [
        {
          type: 'Renamed',
          version: 2,
          upcasters: { 1: (d) => ({ name: (d as { title: string }).title.toUpperCase() }) },
        },
      ],
    });
    const seen: RecordedEvent[] = [];
    const sub = await app.get(EventSubscriptions).subscribe({
      from: 'beginning',
      errorPolicy: { onFailure: 'dead-letter', retry: { maxAttempts: 1 } },
      onEvent: (event) => void seen.push(event),
    });
    await eventually(() => sub.status().state === 'live', 'live');
    // One batch failed on the bad event, then each event went alone: the first may come twice.
    const unique = [...new Map(seen.map((e) => [e.id, e])).values()];
    expect(unique.map((e) => [e.schemaVersion, e.data])).toEqual([
      [2, { name: 'FIRST' }],
      [2, { name: 'CURRENT' }],
    ]);
    expect(sub.status().deadLetters).toBe(1);
    expect(sub.status().lastError).toMatch(
      /stored schema version 1\) cannot be decoded: the upcaster from version 1 to 2 failed/,
    );
    await sub.stop();
  });

  it('faults on an undecodable event by default, naming it', async () => {
    const store = new InMemoryEventStore();
    const { events } = await store.append([
      {
        streamId: streamId('doc-1'),
        expected: ExpectedVersion.any,
        events: [testEvent('Renamed', { name: 'from the future' }, { schemaVersion: 3 })],
      },
    ]);
    app = await createTestApp({ store, providers: [], events: [{ type: 'Renamed' }] });
    const seen: RecordedEvent[] = [];
    const sub = await app.get(EventSubscriptions).subscribe({
      from: 'beginning',
      errorPolicy: { retry: { initialDelayMs: 1, maxAttempts: 2 } },
      onEvent: (event) => void seen.push(event),
    });
    await eventually(() => sub.status().state === 'faulted', 'faulted');
    expect(seen).toEqual([]);
    expect(sub.status().lastError).toContain(`Event ${events[0]!.id} of stream "doc-1"`);
    await sub.stop();
  });
});
