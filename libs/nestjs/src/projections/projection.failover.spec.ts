import type { INestApplication } from '@nestjs/common';
import {
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemoryProjectionLock,
} from '@eventcore/core';
import { CommandBus } from '../command-bus';
import {
  Add,
  SeenModel,
  createTestApp,
  eventually,
  freshModel,
  headOf,
} from './__fixtures__/projection-fixtures';
import { ProjectionRegistry } from './projection.registry';

/** Two app instances on one store, checkpoint store and lock (as two processes on one database). */
describe('one active instance per projection', () => {
  const store = new InMemoryEventStore();
  const shared = {
    store,
    model: new SeenModel(),
    checkpointStore: new InMemoryCheckpointStore(),
    projectionLock: new InMemoryProjectionLock(),
  };
  let first: INestApplication;
  let second: INestApplication;

  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it('runs the projection on one instance only; the other takes over when it stops, losing and doubling nothing', async () => {
    first = await createTestApp(shared);
    const firstStatus = () => first.get(ProjectionRegistry).get('counters');
    await eventually(() => firstStatus().state === 'live', 'the first instance is live');
    second = await createTestApp(shared);
    const secondStatus = () => second.get(ProjectionRegistry).get('counters');
    await eventually(() => secondStatus().state === 'standby', 'the second instance stands by');

    const bus = second.get(CommandBus);
    const write = (from: number, to: number) =>
      Promise.all(
        Array.from({ length: 5 }, async (_, s) => {
          for (let i = from; i < to; i++) await bus.execute(new Add(`s${s}`, i + 1));
        }),
      );
    const written = await bus.execute(new Add('first', 1));
    // Read-your-writes on the standby instance: the durable checkpoint counts there.
    await second.get(ProjectionRegistry).waitFor(written.position, { timeoutMs: 20_000 });
    expect(secondStatus().state).toBe('standby');
    const writing = write(0, 40);
    await eventually(() => shared.model.positions.length > 100, 'the first instance made progress');
    expect(secondStatus().state).toBe('standby');
    // Close the active instance while commands are still coming in.
    await Promise.all([first.close(), writing, write(40, 80)]);
    expect(firstStatus().state).toBe('stopped');
    await bus.execute(new Add('last', 1)); // certainly after the takeover

    await second.get(ProjectionRegistry).waitFor(await headOf(store), { timeoutMs: 20_000 });
    expect(secondStatus()).toMatchObject({ state: 'live', lastError: null });
    expect(secondStatus().handledEvents).toBeGreaterThan(0);
    const expected = await freshModel(store);
    expect(expected.positions).toHaveLength(402);
    expect(shared.model.positions).toEqual(expected.positions);
    expect(shared.model.sums).toEqual(expected.sums);
  });
});
