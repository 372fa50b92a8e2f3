import { Logger } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { InvalidOptionsError } from '@eventcore/core';
import {
  AckPolicy,
  connect,
  type ConnectionOptions,
  type ConsumerMessages,
  DeliverPolicy,
  headers as natsHeaders,
  type JsMsg,
  type NatsConnection,
  nanos,
  StorageType,
} from 'nats';
import { type ForwardedEvent, fromMessage } from './event-message';
import { InMemoryProcessedEvents, type ProcessedEventStore } from './processed-events';
import { checkSubjectPrefix } from './subject';

/** Options of {@link JetStreamEventConsumer}. */
export interface JetStreamEventConsumerOptions<Data = unknown, Tx = undefined> {
  /** NATS server URL(s). */
  readonly servers: string | readonly string[];
  /** The JetStream stream the forwarder publishes to. */
  readonly stream: string;
  /** Durable consumer name: the server keeps its position across restarts (letters, digits, _ and -). */
  readonly durable: string;
  /** Only messages on this subject (wildcards allowed), e.g. `'bank.*.account.>'`. @default the whole stream */
  readonly filterSubject?: string;
  /**
   * Called once per event, with the `processed` store's transaction; throwing makes JetStream
   * deliver the message again after a delay.
   */
  readonly handler: (
    event: ForwardedEvent<Data>,
    context: { readonly tx: Tx },
  ) => Promise<void> | void;
  /** Deliveries of one message, the first included, before it goes to the dead-letter subject. @default 5 */
  readonly maxDeliveries?: number;
  /** Delay before the second delivery; doubles per delivery up to `maxRedeliveryDelayMs`. @default 1000 */
  readonly redeliveryDelayMs?: number;
  /** Longest delay between two deliveries. @default 60000 */
  readonly maxRedeliveryDelayMs?: number;
  /**
   * Where a message goes after its last failed delivery (published through JetStream, then the
   * original is terminated). It must not be captured by `stream` itself.
   * @default `eventcore-dead-letter.<durable>`
   */
  readonly deadLetterSubject?: string;
  /** A stream to capture `deadLetterSubject`, created when absent. @default none: an existing stream must capture it */
  readonly deadLetterStream?: string;
  /**
   * Idempotency by event id. Required when `Tx` is not `undefined`.
   * @default a new InMemoryProcessedEvents (single process only)
   */
  readonly processed?: ProcessedEventStore<Tx>;
  /** How long the server waits for an acknowledgement before delivering again. @default 30000 */
  readonly ackWaitMs?: number;
  /** Further connection options (credentials, TLS, name). */
  readonly connection?: Omit<ConnectionOptions, 'servers'>;
}

/** Counts of a consumer since it started. */
export interface JetStreamEventConsumerStats {
  /** Messages received, redeliveries included. */
  readonly deliveries: number;
  /** Events the handler processed successfully. */
  readonly handled: number;
  /** Deliveries skipped because their event id was already processed. */
  readonly duplicates: number;
  /** Failed deliveries handed back for a later one. */
  readonly retried: number;
  /** Messages sent to the dead-letter subject. */
  readonly deadLettered: number;
  readonly state: 'stopped' | 'connecting' | 'running';
  readonly lastError: string | null;
}

const WHAT = 'JetStreamEventConsumer options';

/** Headers a dead letter carries besides the original message's. */
export const DeadLetterHeaders = {
  /** Why the last delivery failed (the error's message). */
  reason: 'EventCore-Dead-Letter-Reason',
  consumer: 'EventCore-Dead-Letter-Consumer',
  deliveries: 'EventCore-Dead-Letter-Deliveries',
  /** `<stream>:<sequence>` of the original message. */
  source: 'EventCore-Dead-Letter-Source',
} as const;

/**
 * A durable pull consumer of the forwarder's stream, for other services: calls `handler` once per
 * event, acknowledges after it succeeded, asks for redelivery with a growing delay when it throws,
 * and after `maxDeliveries` failed deliveries publishes the message to the dead-letter subject and
 * terminates it. Event ids already processed (per `processed`) are acknowledged without calling
 * `handler` again.
 *
 * A Nest provider as is: it starts in `onApplicationBootstrap` and drains in
 * `beforeApplicationShutdown`. It keeps trying to connect while NATS is unavailable.
 */
export class JetStreamEventConsumer<Data = unknown, Tx = undefined>
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger('EventCore');
  private readonly servers: string[];
  private readonly maxDeliveries: number;
  private readonly processed: ProcessedEventStore<Tx>;
  private readonly deadLetterSubject: string;
  private nc: NatsConnection | undefined;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private running = false;
  private wakeUp: (() => void) | undefined;
  private counts = { deliveries: 0, handled: 0, duplicates: 0, retried: 0, deadLettered: 0 };
  private state: JetStreamEventConsumerStats['state'] = 'stopped';
  private lastError: string | null = null;

  /** @throws InvalidOptionsError for malformed options, naming the field. */
  constructor(private readonly options: JetStreamEventConsumerOptions<Data, Tx>) {
    const servers = typeof options.servers === 'string' ? [options.servers] : options.servers;
    if (
      !Array.isArray(servers) ||
      servers.length === 0 ||
      !servers.every((s) => typeof s === 'string' && s !== '')
    ) {
      throw new InvalidOptionsError(
        `${WHAT}.servers`,
        "give one or more NATS server URLs, e.g. 'nats://127.0.0.1:4222'",
      );
    }
    this.servers = [...servers];
    for (const field of ['stream', 'durable'] as const) {
      if (typeof options[field] !== 'string' || !/^[A-Za-z0-9_-]{1,255}$/.test(options[field])) {
        throw new InvalidOptionsError(
          `${WHAT}.${field}`,
          `${JSON.stringify(options[field])} is not a JetStream name; use 1–255 letters, digits, _ or -`,
        );
      }
    }
    if (typeof options.handler !== 'function') {
      throw new InvalidOptionsError(`${WHAT}.handler`, 'give a function that processes one event');
    }
    this.maxDeliveries = options.maxDeliveries ?? 5;
    positiveInteger('maxDeliveries', this.maxDeliveries);
    positiveInteger('redeliveryDelayMs', options.redeliveryDelayMs ?? 1_000);
    positiveInteger('maxRedeliveryDelayMs', options.maxRedeliveryDelayMs ?? 60_000);
    positiveInteger('ackWaitMs', options.ackWaitMs ?? 30_000);
    if (
      options.deadLetterStream !== undefined &&
      !/^[A-Za-z0-9_-]{1,255}$/.test(options.deadLetterStream)
    ) {
      throw new InvalidOptionsError(
        `${WHAT}.deadLetterStream`,
        'use 1–255 letters, digits, _ or -',
      );
    }
    this.deadLetterSubject = checkSubjectPrefix(
      options.deadLetterSubject ?? `eventcore-dead-letter.${options.durable}`,
      `${WHAT}.deadLetterSubject`,
    );
    this.processed =
      options.processed ?? (new InMemoryProcessedEvents() as unknown as ProcessedEventStore<Tx>);
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Starts consuming in the background (connecting, with retries, as long as needed); returns at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the message in hand and closes the connection. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.messages?.close().catch(() => undefined);
    await this.loop;
    this.state = 'stopped';
  }

  stats(): JetStreamEventConsumerStats {
    return { ...this.counts, state: this.state, lastError: this.lastError };
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.state = 'connecting';
      try {
        await this.consume();
        failures = 0;
      } catch (error) {
        this.lastError = describe(error);
        this.logger.warn(`JetStream consumer ${this.options.durable}: ${this.lastError}; retrying`);
        failures++;
      } finally {
        const nc = this.nc;
        this.nc = undefined;
        this.messages = undefined;
        await nc?.close().catch(() => undefined);
      }
      if (this.running) await this.sleep(Math.min(200 * 2 ** failures, 10_000));
    }
  }

  private async consume(): Promise<void> {
    this.nc = await connect({
      ...this.options.connection,
      servers: this.servers,
      maxReconnectAttempts: -1,
    });
    const jsm = await this.nc.jetstreamManager();
    await jsm.consumers.add(this.options.stream, {
      durable_name: this.options.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.options.ackWaitMs ?? 30_000),
      // The helper counts deliveries and dead-letters; the server must not stop delivering first.
      max_deliver: -1,
      ...(this.options.filterSubject === undefined
        ? {}
        : { filter_subject: this.options.filterSubject }),
    });
    if (this.options.deadLetterStream !== undefined) {
      const name = this.options.deadLetterStream;
      await jsm.streams.info(name).catch(async (error: unknown) => {
        if (!/stream not found/i.test(describe(error))) throw error;
        await jsm.streams.add({
          name,
          subjects: [this.deadLetterSubject],
          storage: StorageType.File,
        });
      });
    }
    const consumer = await this.nc
      .jetstream()
      .consumers.get(this.options.stream, this.options.durable);
    if (!this.running) return;
    this.messages = await consumer.consume({ max_messages: 64 });
    this.state = 'running';
    this.lastError = null;
    for await (const msg of this.messages) {
      await this.process(msg);
      if (!this.running) break;
    }
  }

  private async process(msg: JsMsg): Promise<void> {
    this.counts.deliveries++;
    const delivery = msg.info.deliveryCount;
    let event: ForwardedEvent<Data>;
    try {
      event = fromMessage<Data>(msg);
    } catch (error) {
      // A message that cannot be read will not become readable: no point in redelivering it.
      return this.deadLetter(msg, undefined, error);
    }
    try {
      const ran = await this.processed.processOnce(this.options.durable, event.id, async (tx) => {
        await this.options.handler(event, { tx });
      });
      if (ran) this.counts.handled++;
      else this.counts.duplicates++;
      await msg.ackAck();
    } catch (error) {
      this.lastError = `event ${event.id}: ${describe(error)}`;
      if (delivery >= this.maxDeliveries) return this.deadLetter(msg, event, error);
      this.counts.retried++;
      msg.nak(this.redeliveryDelay(delivery));
    }
  }

  /**
   * Publishes the message as it came, plus why it failed, then terminates it. If the publish fails
   * the message is handed back instead, so it is never dropped without a dead-letter record.
   */
  private async deadLetter(
    msg: JsMsg,
    event: ForwardedEvent<Data> | undefined,
    error: unknown,
  ): Promise<void> {
    const h = natsHeaders();
    for (const [key, values] of msg.headers ?? []) for (const value of values) h.append(key, value);
    h.set(DeadLetterHeaders.reason, describe(error).replace(/[\r\n]+/g, ' '));
    h.set(DeadLetterHeaders.consumer, this.options.durable);
    h.set(DeadLetterHeaders.deliveries, String(msg.info.deliveryCount));
    h.set(DeadLetterHeaders.source, `${msg.info.stream}:${msg.seq}`);
    try {
      await this.nc!.jetstream().publish(this.deadLetterSubject, msg.data, {
        headers: h,
        msgID: `${this.options.durable}:${event?.id ?? `${msg.info.stream}:${msg.seq}`}`,
      });
    } catch (publishError) {
      this.lastError = `dead-lettering message ${msg.seq} to ${this.deadLetterSubject} failed: ${describe(publishError)}`;
      this.counts.retried++;
      msg.nak(this.redeliveryDelay(msg.info.deliveryCount));
      return;
    }
    msg.term(describe(error).slice(0, 200));
    this.counts.deadLettered++;
    this.logger.warn(
      `JetStream consumer ${this.options.durable}: ${event === undefined ? `message ${msg.seq}` : `event ${event.id}`} dead-lettered to ${this.deadLetterSubject} after ${msg.info.deliveryCount} deliveries`,
    );
  }

  private redeliveryDelay(delivery: number): number {
    const initial = this.options.redeliveryDelayMs ?? 1_000;
    return Math.min(initial * 2 ** (delivery - 1), this.options.maxRedeliveryDelayMs ?? 60_000);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}

function positiveInteger(field: string, value: unknown): void {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new InvalidOptionsError(
      `${WHAT}.${field}`,
      `${String(value)} is not a whole number of 1 or more`,
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
