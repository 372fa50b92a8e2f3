import 'reflect-metadata';
import { testEvent } from '@eventcore/core/testing';
import { Command, Stream } from '../command/command.decorators';
import { CommandExecutor } from '../command/command-executor';
import type { CommandContext, CommandLogic } from '../command/command-logic';
import { ErrorCodes } from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { ExpectedVersion } from '../store/expected-version';
import { type StreamId, streamId } from '../store/stream-id';
import type { RecordedEvent } from './event';
import { MessagePackSerializer } from './event-serializer';
import { EventTypeRegistry } from './event-type-registry';

type Sampled = { type: 'Sampled'; data: { readings: number[]; sensor: string } };

@Command({ validate: false })
class Sample implements CommandLogic<number, Sampled> {
  @Stream() sensor: StreamId = streamId('sensor-1');
  constructor(readonly readings: number[]) {}
  initialState(): number {
    return 0;
  }
  apply(count: number, event: RecordedEvent<Sampled>): number {
    return count + event.data.readings.length;
  }
  handle(count: number, ctx: CommandContext<Sampled, Sample>): void {
    ctx.emit('sensor', {
      type: 'Sampled',
      data: { readings: this.readings, sensor: `seen ${count}` },
    });
  }
}

const registry = () =>
  new EventTypeRegistry([{ type: 'Sampled', serializer: new MessagePackSerializer() }]);

describe('event serializers', () => {
  it('stores a MessagePack type as bytes (base64) and hands back the decoded data', async () => {
    const store = new InMemoryEventStore();
    const executor = new CommandExecutor(store, { events: registry() });
    const first = await executor.execute(new Sample([1.5, -2, 3e10]));
    const stored = first.events[0]!;
    expect(stored.encoding).toBe('msgpack');
    expect(typeof stored.data).toBe('string');
    expect(registry().upcast(stored).data).toEqual({ readings: [1.5, -2, 3e10], sensor: 'seen 0' });
    // The next command folds the decoded data.
    const second = await executor.execute(new Sample([4]));
    expect(registry().upcast(second.events[0]!).data).toEqual({ readings: [4], sensor: 'seen 3' });
  });

  it('fails with EventDecodeError for corrupt bytes or an unknown format', async () => {
    const store = new InMemoryEventStore();
    await store.append([
      {
        streamId: streamId('sensor-1'),
        expected: ExpectedVersion.any,
        events: [
          testEvent('Sampled', 'wQ==', { encoding: 'msgpack' }),
          testEvent('Sampled', 'AAAA', { encoding: 'cbor' }),
        ],
      },
    ]);
    const [corrupt, unknown] = (await store.readStreams([streamId('sensor-1')])).events;
    expect(() => registry().upcast(corrupt!)).toThrow(
      expect.objectContaining({ code: ErrorCodes.eventDecode }),
    );
    expect(() => registry().upcast(unknown!)).toThrow(
      /no serializer is registered for format "cbor"/,
    );
    const error = await new CommandExecutor(store, { events: registry() })
      .execute(new Sample([1]))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.eventDecode, eventId: corrupt!.id });
  });

  it('refuses binary-encoded data that is not base64, writing nothing', async () => {
    const store = new InMemoryEventStore();
    await expect(
      store.append([
        {
          streamId: streamId('s'),
          expected: ExpectedVersion.any,
          events: [testEvent('Sampled', { not: 'bytes' }, { encoding: 'msgpack' })],
        },
      ]),
    ).rejects.toMatchObject({ code: ErrorCodes.invalidAppend });
    expect((await store.readAll({ limit: 10 })).events).toHaveLength(0);
  });

  it('refuses a serializer format that clashes with json or is malformed', () => {
    const json = { format: 'json', serialize: () => new Uint8Array(), deserialize: () => null };
    expect(() => new EventTypeRegistry([{ type: 'T', serializer: json }])).toThrow(/not "json"/);
    const bad = { ...json, format: 'Bad Format' };
    expect(() => new EventTypeRegistry([{ type: 'T', serializer: bad }])).toThrow(/format must be/);
  });
});
