/** @eventcore/nats — fan-out of the committed log to NATS JetStream, and a consumer helper. */
export { EventCoreNatsModule } from './eventcore-nats.module';
export { NatsForwarder, type NatsForwarderStats } from './nats-forwarder';
export type { NatsForwarderOptions, ResolvedNatsForwarderOptions } from './nats-forwarder.options';
export {
  EventHeaders,
  type ForwardedEvent,
  fromMessage,
  type ReceivedMessage,
} from './event-message';
export {
  escapeSubjectToken,
  eventSubject,
  type EventSubjectParts,
  parseEventSubject,
  streamCategory,
  unescapeSubjectToken,
} from './subject';
export {
  DeadLetterHeaders,
  JetStreamEventConsumer,
  type JetStreamEventConsumerOptions,
  type JetStreamEventConsumerStats,
} from './jetstream-event-consumer';
export { InMemoryProcessedEvents, type ProcessedEventStore } from './processed-events';
