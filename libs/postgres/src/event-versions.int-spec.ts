import 'reflect-metadata';
import {
  Command,
  type CommandContext,
  CommandExecutor,
  type CommandLogic,
  ErrorCodes,
  EventTypeRegistry,
  ExpectedVersion,
  InMemoryProjectionLock,
  ProjectionWorker,
  type RecordedEvent,
  Stream,
  type StreamId,
  streamId,
} from '@eventcore/core';
import { testEvent } from '@eventcore/core/testing';
import type { PostgresEventStore } from './postgres.event-store';
import { createPostgresEventStore } from './postgres.factory';
import { createPostgresCheckpointStore } from './projection/postgres.checkpoint-store';
import { createTestDatabase, describeWithServer, type TestDatabase } from './testing/test-database';

/** MoneyDeposited over three schema versions: v1 { amount } units → v2 { cents } → v3 { cents, currency }. */
type Deposited = { type: 'MoneyDeposited'; data: { cents: number; currency: string } };

const registry = (failOn?: number) =>
  new EventTypeRegistry([
    {
      type: 'MoneyDeposited',
      version: 3,
      upcasters: {
        1: (d) => ({ cents: (d as { amount: number }).amount * 100 }),
        2: (d) => {
          if ((d as { cents: number }).cents === failOn) throw new Error('unknown currency');
          return { ...(d as object), currency: 'EUR' };
        },
      },
    },
  ]);

@Command({ validate: false })
class DepositInterest implements CommandLogic<number, Deposited> {
  @Stream() account: StreamId = streamId('account-1');
  initialState(): number {
    return 0;
  }
  apply(total: number, event: RecordedEvent<Deposited>): number {
    if (event.data.currency !== 'EUR') throw new Error('the fold saw an old shape');
    return total + event.data.cents;
  }
  handle(total: number, ctx: CommandContext<Deposited, DepositInterest>): void {
    ctx.emit('account', {
      type: 'MoneyDeposited',
      data: { cents: Math.round(total / 100), currency: 'EUR' },
    });
  }
}

describeWithServer('event versions on PostgreSQL', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await createPostgresEventStore({ connectionString: database.url });
    await store.append([
      {
        streamId: streamId('account-1'),
        expected: ExpectedVersion.noStream,
        events: [
          testEvent('MoneyDeposited', { amount: 10 }, { schemaVersion: 1 }),
          testEvent('MoneyDeposited', { cents: 500 }, { schemaVersion: 2 }),
          testEvent('MoneyDeposited', { cents: 490, currency: 'EUR' }, { schemaVersion: 3 }),
        ],
      },
    ]);
  });

  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  it('stores each event with its schema version and upcasts the three versions for a command', async () => {
    const stored = (await store.readStreams([streamId('account-1')])).events.map(
      (e) => e.schemaVersion,
    );
    expect(stored).toEqual([1, 2, 3]);
    const result = await new CommandExecutor(store, { events: registry() }).execute(
      new DepositInterest(),
    );
    expect(result.events[0]).toMatchObject({
      schemaVersion: 3,
      data: { cents: 20, currency: 'EUR' },
    });
  });

  it('fails a command with EventDecodeError naming the event when an upcaster throws', async () => {
    const [, second] = (await store.readStreams([streamId('account-1')])).events;
    const error = await new CommandExecutor(store, { events: registry(500) })
      .execute(new DepositInterest())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCodes.eventDecode,
      eventId: second!.id,
      streamId: 'account-1',
      storedVersion: 2,
    });
  });

  it('hands upcast events to a projection, and dead-letters the undecodable one in PostgreSQL', async () => {
    const checkpoints = await createPostgresCheckpointStore(store);
    const seen: unknown[] = [];
    const worker = new ProjectionWorker(
      {
        name: 'deposits',
        filter: { streamPrefixes: ['account-'] },
        pollIntervalMs: 20,
        errorPolicy: { onFailure: 'dead-letter', retry: { maxAttempts: 1 } },
      },
      { handle: (event) => void seen.push(event.data) },
      { store, checkpoints, lock: new InMemoryProjectionLock(), events: registry(500) },
    );
    worker.start();
    try {
      const deadline = Date.now() + 10_000;
      while (worker.status().state !== 'live') {
        if (Date.now() > deadline)
          throw new Error(`projection not live: ${JSON.stringify(worker.status())}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      // This handler writes outside the transaction (an array), so the failed first batch may have
      // handed the first event over twice: compare distinct shapes.
      const shapes = [...new Set(seen.map((d) => JSON.stringify(d)))];
      expect(shapes.slice(0, 2)).toEqual([
        '{"cents":1000,"currency":"EUR"}',
        '{"cents":490,"currency":"EUR"}',
      ]);
      expect(shapes).not.toContain('{"cents":500,"currency":"EUR"}');
      const letters = await checkpoints.deadLetters('deposits');
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ streamId: 'account-1', eventType: 'MoneyDeposited' });
      expect(letters[0]!.error).toMatch(/stored schema version 2.*unknown currency/);
    } finally {
      await worker.stop();
    }
  });
});
