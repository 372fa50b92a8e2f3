import 'reflect-metadata';
import fc from 'fast-check';
import { Command } from '../command/command.decorators';
import { Stream } from '../command/command.decorators';
import { CommandExecutor } from '../command/command-executor';
import type { CommandContext, CommandLogic } from '../command/command-logic';
import { ErrorCodes } from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { ExpectedVersion } from '../store/expected-version';
import { type StreamId, streamId } from '../store/stream-id';
import { eventToAppendArbitrary, streamIdArbitrary } from './arbitraries';
import { FaultyEventStore } from './faulty-event-store';
import { ManualClock } from './manual-clock';
import { seededRandom } from './seeded-random';

type Ticked = { type: 'Ticked'; data: { at: string } };

@Command()
class Tick implements CommandLogic<number, Ticked> {
  @Stream() stream: StreamId = streamId('ticks');
  initialState(): number {
    return 0;
  }
  apply(count: number): number {
    return count + 1;
  }
  handle(_count: number, ctx: CommandContext<Ticked, Tick>): void {
    ctx.emit('stream', { type: 'Ticked', data: { at: ctx.now.toISOString() } });
  }
}

describe('testing kit', () => {
  it('FaultyEventStore injects a conflict on the n-th append; the executor retries and nothing is doubled', async () => {
    const store = new FaultyEventStore({ conflictOnAppends: [2, 3] });
    const executor = new CommandExecutor(store, { sleep: async () => undefined });
    expect((await executor.execute(new Tick())).attempts).toBe(1);
    expect((await executor.execute(new Tick())).attempts).toBe(3);
    expect(store.appendCalls).toBe(4);
    const read = await store.readStreams([streamId('ticks')]);
    expect(read.versions.get(streamId('ticks'))).toBe(2);
  });

  it('FaultyEventStore failures are reproducible from the seed and write nothing', async () => {
    const outcomes = async (seed: number) => {
      const store = new FaultyEventStore({ failureRate: 0.5, seed });
      const executor = new CommandExecutor(store);
      const results: string[] = [];
      for (let i = 0; i < 20; i++) {
        results.push(
          await executor.execute(new Tick()).then(
            () => 'ok',
            (e: { code: string }) => e.code,
          ),
        );
      }
      const count = (await store.inner.readAll({ limit: 100 })).events.length;
      return { results, count };
    };
    const first = await outcomes(7);
    expect(await outcomes(7)).toEqual(first);
    expect(first.results).toContain(ErrorCodes.storeUnavailable);
    expect(first.results).toContain('ok');
    expect(first.count).toBe(first.results.filter((r) => r === 'ok').length);
  });

  it('FaultyEventStore adds latency without changing results', async () => {
    const store = new FaultyEventStore({ latencyMs: [1, 3], seed: 3 });
    const executor = new CommandExecutor(store);
    const result = await executor.execute(new Tick());
    expect(result.events).toHaveLength(1);
  });

  it('ManualClock moves only when told, and the executor stamps events with it', async () => {
    const clock = new ManualClock('2031-05-06T07:08:09.000Z');
    const executor = new CommandExecutor(new InMemoryEventStore(), { clock });
    const first = await executor.execute(new Tick());
    clock.advance(1_500);
    const second = await executor.execute(new Tick());
    expect(first.events[0]!.occurredAt).toBe('2031-05-06T07:08:09.000Z');
    expect(second.events[0]!.data).toEqual({ at: '2031-05-06T07:08:10.500Z' });
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('seededRandom repeats its sequence for a seed and stays in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const values = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(values);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
  });

  it('arbitraries make stream ids and events the store accepts and returns unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(
        streamIdArbitrary(),
        fc.array(eventToAppendArbitrary(), { minLength: 1, maxLength: 5 }),
        async (id, events) => {
          const store = new InMemoryEventStore();
          const unique = [...new Map(events.map((e) => [e.id, e])).values()];
          await store.append([
            { streamId: id, expected: ExpectedVersion.noStream, events: unique },
          ]);
          const read = await store.readStreams([id]);
          expect(
            read.events.map(({ id: eventId, type, data, metadata, occurredAt }) => ({
              id: eventId,
              type,
              data,
              metadata,
              occurredAt,
            })),
          ).toEqual(
            unique.map(({ id: eventId, type, data, metadata, occurredAt }) => ({
              id: eventId,
              type,
              data,
              metadata,
              occurredAt,
            })),
          );
        },
      ),
      { numRuns: 100 },
    );
  });
});
