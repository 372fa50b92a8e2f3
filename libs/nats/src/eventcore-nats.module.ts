import { type DynamicModule, Module } from '@nestjs/common';
import { ProcessManager } from '@eventcore/nestjs';
import { NatsForwarder } from './nats-forwarder';
import { type NatsForwarderOptions, resolveForwarderOptions } from './nats-forwarder.options';

/**
 * Opt-in fan-out of the committed log to NATS JetStream. Import it next to `EventCoreModule`:
 * EventCoreModule discovers the forwarder it registers and runs it like any projection (status,
 * pause/resume, lag and health under the forwarder's `name`, one instance at a time across the
 * app's instances). Commands never talk to NATS.
 *
 * ```ts
 * @Module({
 *   imports: [
 *     EventCoreModule.forRoot({ store }),
 *     EventCoreNatsModule.forRoot({ servers: 'nats://127.0.0.1:4222', stream: 'BANK', subjectPrefix: 'bank' }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
export class EventCoreNatsModule {
  /**
   * A forwarder with these options; call it once per stream to forward to.
   * @throws InvalidOptionsError for malformed options, naming the field.
   */
  static forRoot(options: NatsForwarderOptions): DynamicModule {
    const resolved = resolveForwarderOptions(options);
    // The projection's name and filter are class metadata, so each forwarder gets a class of its own.
    class Forwarder extends NatsForwarder {}
    Object.defineProperty(Forwarder, 'name', { value: `NatsForwarder(${resolved.name})` });
    ProcessManager({
      name: resolved.name,
      streams: resolved.streams,
      eventTypes: resolved.eventTypes,
      batchSize: resolved.batchSize,
      errorPolicy: {
        // No last attempt: an event the forwarder gave up on would be missing downstream for good.
        retry: { ...resolved.retry, maxAttempts: Number.MAX_SAFE_INTEGER },
        onFailure: 'fault',
      },
    })(Forwarder);
    return {
      module: EventCoreNatsModule,
      providers: [
        { provide: Forwarder, useFactory: () => new Forwarder(resolved), inject: [] },
        { provide: NatsForwarder, useExisting: Forwarder },
      ],
      exports: [NatsForwarder],
    };
  }
}
