import { type EventStore, ExpectedVersion, type RecordedEvent, streamId } from '@eventcore/core';
import { createPostgresEventStore } from '@eventcore/postgres';
import { testEvent } from '@eventcore/core/testing';
import {
  createTestDatabase,
  describeWithServer,
  type TestDatabase,
} from '@eventcore/postgres/testing';
import { connect, type NatsConnection } from 'nats';
import { spawnTs, type TsProcess } from '../../../test/support/ts-process';
import { type ForwarderApp, startForwarderApp } from './__fixtures__/forwarder-app';
import {
  deleteStreams,
  describeWithNats,
  eventually,
  NATS_URL,
  PrivateNatsServer,
  uniqueName,
} from './__fixtures__/nats-testing';
import { type ForwardedEvent, fromMessage } from './event-message';
import { JetStreamEventConsumer } from './jetstream-event-consumer';
import { InMemoryProcessedEvents } from './processed-events';
import { escapeSubjectToken, streamCategory } from './subject';

/** Stream ids (no `*`: the store refuses it) and types that need escaping in a subject, beside plain ones. */
const AWKWARD_STREAMS = [
  'account-1',
  'order.v2-7',
  'a b-c',
  '100%.sure-x',
  'gt>-y',
  'Überweisung-ü',
  'nodash',
];

async function appendEvents(store: EventStore, count: number, from = 0): Promise<RecordedEvent[]> {
  const recorded: RecordedEvent[] = [];
  for (let i = from; i < from + count; i++) {
    const id = AWKWARD_STREAMS[i % AWKWARD_STREAMS.length]!;
    const type = ['Money Deposited.v1', 'Opened', 'Rate*Changed>'][i % 3]!;
    const { events } = await store.append([
      { streamId: streamId(id), expected: ExpectedVersion.any, events: [testEvent(type, { i })] },
    ]);
    recorded.push(...events);
  }
  return recorded;
}

/** Every message of a JetStream stream, read back as forwarded events, in stream order. */
async function streamContents(nc: NatsConnection, stream: string): Promise<ForwardedEvent[]> {
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info(stream);
  const events: ForwardedEvent[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq });
    events.push(fromMessage({ subject: msg.subject, headers: msg.header, data: msg.data, seq }));
  }
  return events;
}

async function caughtUp(app: ForwarderApp): Promise<void> {
  const page = await app.storage.eventStore.readAll({ limit: 10_000 });
  await app.registry.waitFor(page.next, { projections: ['nats-forwarder'], timeoutMs: 60_000 });
}

describeWithServer('NATS forwarder on PostgreSQL', () => {
  describeWithNats('against NATS JetStream', () => {
    let database: TestDatabase;
    let nc: NatsConnection;
    const streams: string[] = [];

    beforeEach(async () => {
      database = await createTestDatabase();
      nc = await connect({ servers: NATS_URL });
    });

    afterEach(async () => {
      await deleteStreams(nc, ...streams.splice(0));
      await nc.close();
      await database.drop();
    });

    it('publishes every event once, in log order, with its subject, headers and data', async () => {
      const stream = uniqueName('EVENTCORE_TEST');
      streams.push(stream);
      const prefix = `test.${stream}`;
      const app = await startForwarderApp(database.url, {
        servers: NATS_URL,
        stream,
        subjectPrefix: prefix,
        batchSize: 25,
      });
      try {
        const recorded = await appendEvents(app.storage.eventStore, 140);
        await caughtUp(app);
        const forwarded = await streamContents(nc, stream);

        expect(forwarded.map((e) => e.id)).toEqual(recorded.map((e) => e.id));
        expect(forwarded.map((e) => e.globalPosition)).toEqual(
          recorded.map((e) => e.globalPosition),
        );
        for (const [i, event] of recorded.entries()) {
          const got = forwarded[i]!;
          expect(got).toMatchObject({
            type: event.type,
            streamId: event.streamId,
            streamVersion: event.streamVersion,
            correlationId: event.metadata.correlationId,
            causationId: event.metadata.causationId,
            tenant: 'default',
            data: event.data,
          });
          expect(got.subject).toBe(
            `${prefix}.default.${escapeSubjectToken(streamCategory(event.streamId))}.${escapeSubjectToken(event.type)}`,
          );
        }
        expect(app.forwarder.stats()).toMatchObject({ published: 140, duplicates: 0 });
        expect(app.registry.get('nats-forwarder')).toMatchObject({ state: 'live', lagEvents: 0 });
      } finally {
        await app.close();
      }
    });

    it('resumes after a SIGKILL mid-stream: every event arrives, none twice', async () => {
      const stream = uniqueName('EVENTCORE_TEST');
      streams.push(stream);
      const prefix = `test.${stream}`;
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
      // The events are there before the forwarder starts, so the kill lands in the catch-up.
      const writer = await createPostgresEventStore({ connectionString: database.url });
      const recorded = await appendEvents(writer, 1_500);
      await writer.close();

      const seen: string[] = [];
      const consumer = new JetStreamEventConsumer({
        servers: NATS_URL,
        stream,
        durable: 'crash-test',
        processed: new InMemoryProcessedEvents(),
        handler: (event) => {
          seen.push(event.id);
        },
      });
      consumer.start();
      const spawned: TsProcess[] = [];
      try {
        const start = () => {
          const child = spawnTs('libs/nats/src/__fixtures__/forwarder-process.ts', [
            database.url,
            NATS_URL,
            stream,
            prefix,
          ]);
          spawned.push(child);
          return child;
        };
        const first = start();
        await first.message<{ published: number }>((m) => m.published >= 400);
        first.child.kill('SIGKILL');
        expect(await first.exited()).toBe('SIGKILL');
        // Killed mid-stream, not after the end.
        const atKill = (await jsm.streams.info(stream)).state.messages;
        expect(atKill).toBeLessThan(recorded.length);

        const second = start();
        const done = await second.message<{
          published: number;
          duplicates: number;
          handled: number;
        }>((m) => m.handled > 0 && seen.length >= recorded.length);
        await eventually(
          () => consumer.stats().deliveries >= recorded.length,
          30_000,
          'all deliveries',
        );
        // Time for a stray duplicate delivery to show up, if there were one.
        await new Promise((resolve) => setTimeout(resolve, 500));

        expect(seen).toEqual(recorded.map((e) => e.id));
        const stats = consumer.stats();
        expect(stats.handled).toBe(recorded.length);
        expect(stats.duplicates).toBe(0);
        // Raw deliveries: the stream holds each event once, as JetStream dropped the republished ones.
        expect(stats.deliveries).toBe(recorded.length);
        const { state } = await jsm.streams.info(stream);
        expect(state.messages).toBe(recorded.length);
        console.log(
          `crash test: killed at ${atKill} of ${recorded.length} events in the stream; the restarted forwarder republished ${done.duplicates}+ that JetStream acknowledged as duplicates`,
        );
      } finally {
        await consumer.stop();
        for (const child of spawned) child.child.kill('SIGKILL');
        await Promise.all(spawned.map((child) => child.exited()));
      }
    });
  });

  describeWithNats('with a private nats-server that goes away and comes back', () => {
    let database: TestDatabase;
    let server: PrivateNatsServer;

    beforeEach(async () => {
      database = await createTestDatabase();
      server = await PrivateNatsServer.create();
      await server.start();
    });

    afterEach(async () => {
      await server.destroy();
      await database.drop();
    });

    it('waits while NATS is down, leaves appends unaffected, and publishes every event once when it is back', async () => {
      const stream = 'OUTAGE';
      const app = await startForwarderApp(database.url, {
        servers: server.url,
        stream,
        subjectPrefix: 'outage',
        timeoutMs: 1_000,
        retry: { initialDelayMs: 50, maxDelayMs: 300 },
      });
      try {
        const before = await appendEvents(app.storage.eventStore, 30);
        await caughtUp(app);

        await server.stop();
        // The command path never waits for NATS: these appends succeed while it is down.
        const during = await appendEvents(app.storage.eventStore, 30, 30);
        await eventually(
          () =>
            /NATS at nats:\/\/127\.0\.0\.1:\d+ is unavailable/.test(
              app.registry.get('nats-forwarder').lastError ?? '',
            ),
          30_000,
          'the forwarder reporting NATS unavailable',
        );
        // An outage longer than any finite retry budget of these delays (50 ms doubling to 300 ms).
        await eventually(
          () => Date.now() - Date.parse(app.forwarder.stats().failingSince ?? '') > 2_000,
          30_000,
          'a 2 s outage',
        );
        // Still running, at the last acknowledged event, saying why it does not move.
        const waiting = app.registry.get('nats-forwarder');
        expect(waiting.state).not.toBe('faulted');
        expect(waiting.handledEvents).toBe(before.length);
        expect(app.forwarder.stats()).toMatchObject({
          published: before.length,
          connected: false,
          failingSince: expect.any(String),
        });

        await server.start();
        await caughtUp(app);
        const nc = await connect({ servers: server.url });
        try {
          const forwarded = await streamContents(nc, stream);
          expect(forwarded.map((e) => e.id)).toEqual([...before, ...during].map((e) => e.id));
        } finally {
          await nc.close();
        }
        expect(app.registry.get('nats-forwarder')).toMatchObject({ state: 'live', lagEvents: 0 });
        expect(app.forwarder.stats()).toMatchObject({ connected: true, failingSince: null });
      } finally {
        await app.close();
      }
    });
  });
});
