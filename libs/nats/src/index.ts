/** @eventcore/nats — fan-out of the committed log to NATS JetStream, and a consumer helper. */
export * from './eventcore-nats.module';
export * from './nats-forwarder';
export * from './nats-forwarder.options';
export * from './event-message';
export * from './subject';
export * from './jetstream-event-consumer';
export * from './processed-events';
