import { InvalidOptionsError, type RecordedEvent, streamId } from '@eventcore/core';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import {
  deleteStreams,
  describeWithNats,
  eventually,
  NATS_URL,
  uniqueName,
} from './__fixtures__/nats-testing';
import { toMessage } from './event-message';
import { DeadLetterHeaders, JetStreamEventConsumer } from './jetstream-event-consumer';
import { InMemoryProcessedEvents } from './processed-events';

let sequence = 0;

/** A recorded event as the forwarder would see it. */
function recorded(id: string, type = 'Deposited'): RecordedEvent {
  sequence++;
  return {
    id,
    type,
    streamId: streamId(`account-${sequence}`),
    streamVersion: 1,
    globalPosition: sequence,
    tags: [],
    schemaVersion: 1,
    metadata: { correlationId: 'c', causationId: 'c', userId: null, custom: {} },
    occurredAt: new Date().toISOString(),
    recordedAt: new Date().toISOString(),
    data: { n: sequence },
  } as RecordedEvent;
}

describeWithNats('JetStreamEventConsumer', () => {
  let nc: NatsConnection;
  let js: JetStreamClient;
  let stream: string;
  let deadLetters: string;
  let prefix: string;
  const consumers: JetStreamEventConsumer[] = [];

  beforeEach(async () => {
    nc = await connect({ servers: NATS_URL });
    js = nc.jetstream();
    stream = uniqueName('EVENTCORE_TEST');
    deadLetters = `${stream}_DLQ`;
    prefix = `test.${stream}`;
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
  });

  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
    await deleteStreams(nc, stream, deadLetters);
    await nc.close();
  });

  /** Publishes the event as the forwarder does; `msgID` false sends it without a message id (no dedup). */
  async function publish(event: RecordedEvent, msgID: string | false = event.id): Promise<void> {
    const { headers, body } = toMessage(event, 'default');
    await js.publish(`${prefix}.default.account.${event.type}`, body, {
      headers,
      ...(msgID === false ? {} : { msgID }),
    });
  }

  function start(
    handler: (event: { id: string }) => Promise<void> | void,
    options: { maxDeliveries?: number } = {},
  ): JetStreamEventConsumer {
    const consumer = new JetStreamEventConsumer({
      servers: NATS_URL,
      stream,
      durable: 'test-consumer',
      handler,
      redeliveryDelayMs: 20,
      maxRedeliveryDelayMs: 100,
      deadLetterSubject: `${prefix}-dlq.test-consumer`,
      deadLetterStream: deadLetters,
      processed: new InMemoryProcessedEvents(),
      ...options,
    });
    consumers.push(consumer);
    consumer.start();
    return consumer;
  }

  it('redelivers a failing event with a delay, and acknowledges once the handler succeeds', async () => {
    const calls: string[] = [];
    let failuresLeft = 2;
    const consumer = start((event) => {
      calls.push(event.id);
      if (event.id === 'flaky' && failuresLeft-- > 0) throw new Error('not yet');
    });
    await publish(recorded('flaky'));
    await publish(recorded('steady'));
    await eventually(() => consumer.stats().handled === 2, 20_000, 'both handled');
    expect(calls.filter((id) => id === 'flaky')).toHaveLength(3);
    expect(calls.filter((id) => id === 'steady')).toHaveLength(1);
    expect(consumer.stats()).toMatchObject({ retried: 2, deadLettered: 0, duplicates: 0 });
  });

  it('dead-letters an event after maxDeliveries failed deliveries and goes on with the next', async () => {
    const calls: string[] = [];
    const consumer = start(
      (event) => {
        calls.push(event.id);
        if (event.id === 'poison') throw new Error('cannot handle\r\nthis one');
      },
      { maxDeliveries: 3 },
    );
    await publish(recorded('poison'));
    await publish(recorded('fine'));
    await eventually(() => consumer.stats().deadLettered === 1 && consumer.stats().handled === 1);
    expect(calls.filter((id) => id === 'poison')).toHaveLength(3);

    const jsm = await nc.jetstreamManager();
    const letter = await jsm.streams.getMessage(deadLetters, { seq: 1 });
    expect(letter.subject).toBe(`${prefix}-dlq.test-consumer`);
    expect(letter.header.get('EventCore-Event-Id')).toBe('poison');
    expect(letter.header.get(DeadLetterHeaders.reason)).toBe('cannot handle this one');
    expect(letter.header.get(DeadLetterHeaders.deliveries)).toBe('3');
    // Terminated, not redelivered: nothing more arrives after a while.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls.filter((id) => id === 'poison')).toHaveLength(3);
    expect((await jsm.streams.info(deadLetters)).state.messages).toBe(1);
  });

  it('handles an event id once, even when it arrives in two messages', async () => {
    const calls: string[] = [];
    const consumer = start((event) => {
      calls.push(event.id);
    });
    const event = recorded('twice');
    // Without a message id JetStream keeps both: the consumer's idempotency is what remains.
    await publish(event, false);
    await publish(event, false);
    await publish(recorded('once'));
    await eventually(() => consumer.stats().deliveries === 3);
    expect(calls).toEqual(['twice', 'once']);
    expect(consumer.stats()).toMatchObject({ handled: 2, duplicates: 1 });
  });

  it('refuses malformed options, naming the field', () => {
    const handler = () => undefined;
    expect(
      () => new JetStreamEventConsumer({ servers: NATS_URL, stream: 'a.b', durable: 'd', handler }),
    ).toThrow(InvalidOptionsError);
    expect(
      () =>
        new JetStreamEventConsumer({
          servers: NATS_URL,
          stream: 's',
          durable: 'd',
          handler,
          maxDeliveries: 0,
        }),
    ).toThrow(/maxDeliveries/);
    expect(
      () => new JetStreamEventConsumer({ servers: [], stream: 's', durable: 'd', handler }),
    ).toThrow(/servers/);
  });
});
