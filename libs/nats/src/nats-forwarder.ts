import type { OnApplicationShutdown } from '@nestjs/common';
import type { RecordedEvent } from '@eventcore/core';
import { ProcessManagerHost } from '@eventcore/nestjs';
import {
  connect,
  type JetStreamClient,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
} from 'nats';
import { toMessage } from './event-message';
import type { ResolvedNatsForwarderOptions } from './nats-forwarder.options';
import { eventSubject, streamCategory } from './subject';

/** What the forwarder has done since it started in this process. */
export interface NatsForwarderStats {
  /** Publishes JetStream acknowledged as new messages. */
  readonly published: number;
  /** Publishes JetStream acknowledged as duplicates of a message id it had seen within the window. */
  readonly duplicates: number;
  /** Whether a connection to NATS is open now. */
  readonly connected: boolean;
  /**
   * When the current run of failures began (ISO-8601), or null while publishing succeeds. The
   * worker retries a failing batch without reading further, so the projection's lag figures stay
   * those of the last page read during an outage: alert on this instead.
   */
  readonly failingSince: string | null;
}

/**
 * Publishes every event of the log to a JetStream stream, in log order, one acknowledged publish
 * at a time. It runs as a projection of EventCoreModule (same worker: lease, checkpoint, status,
 * pause/resume, lag, health); the worker moves the checkpoint only once every event of a batch is
 * acknowledged, and retries a failed batch with backoff for as long as NATS is unavailable.
 *
 * It extends `ProcessManagerHost` for the checkpoint handling process managers get: the effect
 * (the publish) happens outside any database transaction, then the checkpoint moves in a short
 * transaction of its own. Holding a transaction open while waiting for NATS would hold back every
 * subscriber of the log. Redelivery after a crash is harmless: the event id is the message id.
 *
 * Register it with `EventCoreNatsModule.forRoot`; inject it as `NatsForwarder` for {@link stats}.
 */
export class NatsForwarder extends ProcessManagerHost implements OnApplicationShutdown {
  private connection: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;
  private published = 0;
  private duplicates = 0;
  private connected = false;
  private failingSince: string | null = null;

  constructor(readonly options: ResolvedNatsForwarderOptions) {
    super();
  }

  /** Counts of this process, for tests and dashboards; the worker's status has lag and errors. */
  stats(): NatsForwarderStats {
    return {
      published: this.published,
      duplicates: this.duplicates,
      connected: this.connected,
      failingSince: this.failingSince,
    };
  }

  /** Publishes one event (the worker calls {@link handleBatch}; this is for a single event). */
  async react(event: RecordedEvent): Promise<void> {
    await this.handleBatch([event]);
  }

  /**
   * Publishes the events in order, each after the previous one's acknowledgement: pipelined
   * publishes could be stored out of order when the connection drops between two of them.
   * A failure closes the connection, so nothing it still buffers can reach the stream after a retry.
   */
  override async handleBatch(events: readonly RecordedEvent[]): Promise<void> {
    try {
      await this.publishInOrder(events);
      this.failingSince = null;
    } catch (error) {
      this.failingSince ??= new Date().toISOString();
      throw error;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.disconnect();
  }

  private async publishInOrder(events: readonly RecordedEvent[]): Promise<void> {
    const { js } = await this.connect();
    const { subjectPrefix, tenant, timeoutMs } = this.options;
    for (const event of events) {
      const tenantId = tenant(event);
      const subject = eventSubject(subjectPrefix, {
        tenant: tenantId,
        category: streamCategory(event.streamId),
        type: event.type,
      });
      const { headers, body } = toMessage(event, tenantId);
      try {
        const ack = await js.publish(subject, body, {
          msgID: event.id,
          headers,
          timeout: timeoutMs,
        });
        if (ack.duplicate) this.duplicates++;
        else this.published++;
      } catch (error) {
        await this.disconnect();
        throw new Error(
          `publishing event ${event.id} (position ${event.globalPosition}) to JetStream stream ${this.options.stream} failed: ${message(error)}; the forwarder retries with backoff`,
          { cause: error },
        );
      }
    }
  }

  /**
   * One connection, made on first use and after a failure. The client does not reconnect by itself
   * (`reconnect: false`): its reconnect buffer would send stale publishes after the worker retried.
   */
  private connect(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    this.connection ??= this.open().catch((error: unknown) => {
      this.connection = undefined;
      throw new Error(
        `NATS at ${this.options.servers.join(', ')} is unavailable: ${message(error)}; the forwarder retries with backoff and publishes nothing until it is back`,
        { cause: error },
      );
    });
    return this.connection;
  }

  private async open(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    const nc = await connect({
      name: `eventcore-forwarder:${this.options.name}`,
      ...this.options.connection,
      servers: [...this.options.servers],
      timeout: this.options.timeoutMs,
      reconnect: false,
    });
    try {
      if (this.options.createStream) await this.ensureStream(nc);
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
    this.connected = true;
    void nc.closed().then(() => (this.connected = false));
    return { nc, js: nc.jetstream({ timeout: this.options.timeoutMs }) };
  }

  private async ensureStream(nc: NatsConnection): Promise<void> {
    const jsm = await nc.jetstreamManager({ timeout: this.options.timeoutMs });
    const { stream, subjectPrefix, duplicateWindowMs } = this.options;
    try {
      await jsm.streams.info(stream);
    } catch (error) {
      if (!/stream not found/i.test(message(error))) throw error;
      await jsm.streams.add({
        name: stream,
        subjects: [`${subjectPrefix}.>`],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        duplicate_window: nanos(duplicateWindowMs),
      });
    }
  }

  private async disconnect(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.connected = false;
    const open = await connection?.catch(() => undefined);
    await open?.nc.close().catch(() => undefined);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
