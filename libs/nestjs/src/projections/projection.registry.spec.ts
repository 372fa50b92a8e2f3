import type { INestApplication } from '@nestjs/common';
import {
  ErrorCodes,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  InMemoryProjectionLock,
  type Position,
  ProjectionNotFoundError,
  ProjectionWaitTimeoutError,
} from '@eventcore/core';
import { CommandBus } from '../command-bus';
import {
  Add,
  SeenModel,
  createTestApp,
  eventually,
  headOf,
} from './__fixtures__/projection-fixtures';
import { ProjectionRegistry } from './projection.registry';

describe('ProjectionRegistry', () => {
  let store: InMemoryEventStore;
  let model: SeenModel;
  let app: INestApplication;
  let registry: ProjectionRegistry;
  let bus: CommandBus;

  beforeEach(async () => {
    store = new InMemoryEventStore();
    model = new SeenModel();
    app = await createTestApp({ store, model });
    registry = app.get(ProjectionRegistry);
    bus = app.get(CommandBus);
  });

  afterEach(async () => {
    await app.close();
  });

  it('waitFor after execute: the read model shows the write', async () => {
    for (let i = 1; i <= 20; i++) {
      const result = await bus.execute(new Add('a', i));
      await registry.waitFor(result.position, { projections: ['counters'] });
      expect(model.sums.get('counter-a')).toBe((i * (i + 1)) / 2);
    }
  });

  it('waitFor passes positions of events the projection filters out', async () => {
    const result = await bus.execute(new Add('x', 1, 'other-'));
    await expect(registry.waitFor(result.position)).resolves.toBeUndefined();
  });

  it('waitFor times out with the projections that did not get there, and forgets its waiter', async () => {
    registry.pause('counters');
    const result = await bus.execute(new Add('a', 1));
    const waiting = registry.waitFor(result.position, { timeoutMs: 30 });
    await expect(waiting).rejects.toBeInstanceOf(ProjectionWaitTimeoutError);
    await expect(waiting).rejects.toMatchObject({
      code: ErrorCodes.projectionWaitTimeout,
      projections: ['counters'],
      timeoutMs: 30,
    });
    expect(pendingWaits(registry)).toBe(0);
  });

  it("one caller's timeout does not cancel another caller waiting for the same position", async () => {
    registry.pause('counters');
    const result = await bus.execute(new Add('a', 1));
    const patient = registry.waitFor(result.position, { timeoutMs: 20_000 });
    await expect(registry.waitFor(result.position, { timeoutMs: 10 })).rejects.toBeInstanceOf(
      ProjectionWaitTimeoutError,
    );
    registry.resume('counters');
    await expect(patient).resolves.toBeUndefined();
    expect(pendingWaits(registry)).toBe(0);
  });

  it('refuses a position that is not from this store before it reaches a worker', async () => {
    await expect(registry.waitFor('999999' as Position)).rejects.toMatchObject({
      code: ErrorCodes.invalidPosition,
    });
    await expect(registry.waitFor('abc' as Position)).rejects.toMatchObject({
      code: ErrorCodes.invalidPosition,
    });
    expect(registry.get('counters').lastError).toBeNull();
  });

  it('waitForLag resolves once the lag is within the bound, or times out', async () => {
    for (let i = 0; i < 5; i++) await bus.execute(new Add('a', 1));
    await registry.waitForLag({ maxLagEvents: 0, timeoutMs: 20_000 });
    expect(model.positions).toHaveLength(5);

    registry.pause('counters');
    await registry.waitFor(await headOf(store));
    for (let i = 0; i < 3; i++) await bus.execute(new Add('a', 1));
    await expect(registry.waitForLag({ maxLagEvents: 3, timeoutMs: 10 })).resolves.toBeUndefined();
    await expect(registry.waitForLag({ maxLagEvents: 2, timeoutMs: 10 })).rejects.toMatchObject({
      code: ErrorCodes.projectionWaitTimeout,
      projections: ['counters'],
    });
  });

  it('throws ProjectionNotFoundError for an unknown name, listing the known ones', async () => {
    expect(() => registry.get('nope')).toThrow(ProjectionNotFoundError);
    expect(() => registry.pause('nope')).toThrow(/Known projections: counters/);
    expect(() => registry.resume('nope')).toThrow(ProjectionNotFoundError);
    expect(() => registry.rebuild('nope')).toThrow(ProjectionNotFoundError);
    await expect(registry.deadLetters('nope')).rejects.toBeInstanceOf(ProjectionNotFoundError);
    await expect(
      registry.waitFor(await headOf(store), { projections: ['nope'] }),
    ).rejects.toBeInstanceOf(ProjectionNotFoundError);
  });

  it('pause, resume and rebuild answer the state they brought the projection to', async () => {
    await eventually(() => registry.get('counters').state === 'live', 'live');
    expect(await registry.pause('counters')).toMatchObject({ name: 'counters', state: 'paused' });
    for (let i = 1; i <= 3; i++) await bus.execute(new Add('a', i));
    expect(model.positions).toEqual([]);
    expect(await registry.resume('counters')).toMatchObject({
      state: 'live',
      handledEvents: 3,
      position: '3',
    });
    expect(await registry.rebuild('counters')).toMatchObject({
      state: 'rebuilding',
      handledEvents: 0,
    });
    expect(model.resets).toBe(1);
  });

  it('lists the status of every projection', async () => {
    await registry.waitFor((await bus.execute(new Add('a', 1))).position);
    expect(registry.list()).toEqual([
      expect.objectContaining({ name: 'counters', handledEvents: 1, position: '1' }),
    ]);
  });
});

/** Open read-your-writes waits of the registry (none may leak after a wait settles). */
function pendingWaits(registry: ProjectionRegistry): number {
  const entries = (
    registry as unknown as { entries: Map<string, { worker: { pendingWaits: number } }> }
  ).entries;
  return [...entries.values()].reduce((sum, entry) => sum + entry.worker.pendingWaits, 0);
}

/** Two instances on one lock: control calls on the one standing by. */
describe('ProjectionRegistry on a standby instance', () => {
  const apps: INestApplication[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  it('refuses pause, resume and rebuild with ProjectionNotActiveError and changes nothing', async () => {
    const shared = {
      store: new InMemoryEventStore(),
      model: new SeenModel(),
      checkpointStore: new InMemoryCheckpointStore(),
      projectionLock: new InMemoryProjectionLock(),
    };
    const active = await createTestApp(shared);
    apps.push(active);
    const activeRegistry = active.get(ProjectionRegistry);
    await eventually(() => activeRegistry.get('counters').state === 'live', 'active is live');
    const standby = await createTestApp(shared);
    apps.push(standby);
    const standbyRegistry = standby.get(ProjectionRegistry);
    await eventually(() => standbyRegistry.get('counters').state === 'standby', 'standby');

    for (const [call, action] of [
      [() => standbyRegistry.pause('counters'), 'paused'],
      [() => standbyRegistry.resume('counters'), 'resumed'],
      [() => standbyRegistry.rebuild('counters'), 'rebuilt'],
    ] as const) {
      await expect(call()).rejects.toMatchObject({
        code: ErrorCodes.projectionNotActive,
        projection: 'counters',
        state: 'standby',
        action,
      });
    }
    expect(shared.model.resets).toBe(0);
    const written = await standby.get(CommandBus).execute(new Add('a', 1));
    await activeRegistry.waitFor(written.position);
    expect(activeRegistry.get('counters').state).toBe('live');
  });
});
