import { Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Command,
  type CommandContext,
  type CommandLogic,
  type CommandSnapshot,
  ErrorCodes,
  type EventStore,
  EventTypeRegistry,
  InMemoryEventStore,
  InMemorySnapshotStore,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { CommandBus } from './command-bus';
import { EVENTCORE_EVENT_STORE } from './eventcore.constants';
import { EventCoreModule } from './eventcore.module';
import { InjectEventStore } from './inject-event-store.decorator';
import { InjectEventTypes } from './inject-event-types.decorator';

type Noted = { type: 'Noted'; data: { text: string } };

@Command()
class Note implements CommandLogic<number, Noted> {
  @Stream() stream: StreamId = streamId('notes-1');
  initialState(): number {
    return 0;
  }
  apply(count: number): number {
    return count + 1;
  }
  handle(_count: number, ctx: CommandContext<Noted, Note>): void {
    ctx.emit('stream', { type: 'Noted', data: { text: 'hi' } });
  }
}

/** Its state, a Map, does not survive JSON: never snapshotted, and reported. */
@Command()
class Counted implements CommandLogic<Map<string, number>, Noted> {
  @Stream() stream: StreamId = streamId('counts-1');
  initialState(): Map<string, number> {
    return new Map();
  }
  apply(counts: Map<string, number>): Map<string, number> {
    return new Map(counts).set('notes', (counts.get('notes') ?? 0) + 1);
  }
  handle(_counts: Map<string, number>, ctx: CommandContext<Noted, Counted>): void {
    ctx.emit('stream', { type: 'Noted', data: { text: 'counted' } });
  }
}

@Injectable()
class UsesStore {
  constructor(@InjectEventStore() readonly store: EventStore) {}
}

@Injectable()
class UsesEventTypes {
  constructor(@InjectEventTypes() readonly events: EventTypeRegistry) {}
}

@Module({ providers: [UsesStore], exports: [UsesStore] })
class FeatureModule {}

describe('EventCoreModule', () => {
  it('provides a CommandBus over an in-memory store by default', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [EventCoreModule.forRoot({})],
    }).compile();
    const bus = moduleRef.get(CommandBus);
    const result = await bus.execute(new Note());
    expect(result.events.map((e) => e.type)).toEqual(['Noted']);
    expect(moduleRef.get(EVENTCORE_EVENT_STORE)).toBeInstanceOf(InMemoryEventStore);
    await moduleRef.close();
  });

  it('is global: a feature module injects the store without importing the module', async () => {
    const store = new InMemoryEventStore();
    const moduleRef = await Test.createTestingModule({
      imports: [EventCoreModule.forRoot({ eventStore: store }), FeatureModule],
    }).compile();
    expect(moduleRef.get(UsesStore).store).toBe(store);
    await moduleRef.close();
  });

  it('builds the store in forRootAsync and closes it on shutdown', async () => {
    const store = new InMemoryEventStore();
    const close = jest.spyOn(store, 'close');
    const moduleRef = await Test.createTestingModule({
      imports: [EventCoreModule.forRootAsync({ useFactory: async () => ({ eventStore: store }) })],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    await app.get(CommandBus).execute(new Note());
    expect((await store.readStreams([streamId('notes-1')])).versions.get(streamId('notes-1'))).toBe(
      1,
    );
    await app.close();
    expect(close).toHaveBeenCalledTimes(1);
  });

  it('leaves the store open when closeStoreOnShutdown is false', async () => {
    const store = new InMemoryEventStore();
    const moduleRef = await Test.createTestingModule({
      imports: [EventCoreModule.forRoot({ eventStore: store, closeStoreOnShutdown: false })],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    await app.close();
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('applies the executor defaults given to the module', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({
          executor: { clock: { now: () => new Date('2030-01-02T03:04:05.000Z') } },
        }),
      ],
    }).compile();
    const result = await moduleRef.get(CommandBus).execute(new Note());
    expect(result.events[0]!.occurredAt).toBe('2030-01-02T03:04:05.000Z');
    await moduleRef.close();
  });

  it('writes the snapshots still queued before it closes the store, and logs their problems', async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore(store);
    // A slow save: without the drain at shutdown it would still be pending when close() returns.
    const saveSlowly = snapshots.save.bind(snapshots);
    const saved: CommandSnapshot[] = [];
    snapshots.save = async (snapshot) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await saveSlowly(snapshot);
      saved.push(snapshot);
    };
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [
          EventCoreModule.forRoot({
            eventStore: store,
            closeStoreOnShutdown: false,
            executor: { snapshots: { store: snapshots, every: 1 } },
          }),
        ],
      }).compile();
      const bus = moduleRef.get(CommandBus);
      // A cold command that folded at least one event queues a snapshot.
      await bus.execute(new Note());
      await bus.execute(new Note());
      await bus.execute(new Counted());
      await bus.execute(new Counted());
      await moduleRef.close();

      // Written before close() returned; the Map state never was.
      expect(saved.length).toBeGreaterThan(0);
      expect(new Set(saved.map((snapshot) => snapshot.commandName))).toEqual(new Set(['Note']));
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('Counted'));
    } finally {
      warn.mockRestore();
    }
  });

  it('injects its event types with @InjectEventTypes(), the registry its commands write with', async () => {
    const events = new EventTypeRegistry([
      { type: 'Noted', version: 2, upcasters: { 1: (d) => d } },
    ]);
    const moduleRef = await Test.createTestingModule({
      imports: [EventCoreModule.forRoot({ events })],
      providers: [UsesEventTypes],
    }).compile();
    expect(moduleRef.get(UsesEventTypes).events).toBe(events);
    const result = await moduleRef.get(CommandBus).execute(new Note());
    expect(result.events[0]!.schemaVersion).toBe(2);
    await moduleRef.close();
  });

  it('injects an empty registry when no event types are given', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [EventCoreModule.forRoot({})],
      providers: [UsesEventTypes],
    }).compile();
    const { events } = moduleRef.get(UsesEventTypes);
    expect(events).toBeInstanceOf(EventTypeRegistry);
    expect(events.currentVersion('Noted')).toBe(1);
    await moduleRef.close();
  });

  it('refuses event types given as a list instead of a registry', async () => {
    const compiling = Test.createTestingModule({
      imports: [EventCoreModule.forRoot({ events: [{ type: 'Noted' }] as never })],
    }).compile();
    await expect(compiling).rejects.toMatchObject({
      code: ErrorCodes.invalidOptions,
      message: expect.stringContaining('EventTypeRegistry'),
    });
  });

  it('fails at startup with a clear error for invalid executor options', async () => {
    const compiling = Test.createTestingModule({
      imports: [EventCoreModule.forRoot({ executor: { retry: { maxAttempts: 0 } } })],
    }).compile();
    await expect(compiling).rejects.toMatchObject({ code: ErrorCodes.invalidOptions });
  });
});

describe('EventCoreModule afterShutdown', () => {
  it('runs afterShutdown last, after the store is closed', async () => {
    const store = new InMemoryEventStore();
    const order: string[] = [];
    jest.spyOn(store, 'close').mockImplementation(async () => void order.push('store closed'));
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventCoreModule.forRoot({
          eventStore: store,
          afterShutdown: async () => void order.push('afterShutdown'),
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    await app.close();
    expect(order).toEqual(['store closed', 'afterShutdown']);
  });
});
