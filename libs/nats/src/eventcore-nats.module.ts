import { type DynamicModule, Module } from '@nestjs/common';
import type { RecordedEvent } from '@eventcore/core';
import { ProcessManager, TenantDirectory } from '@eventcore/nestjs';
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
        {
          provide: Forwarder,
          // Under tenancy, and unless the app says otherwise, the subject names the tenant the
          // forwarder runs for: the directory runs it once per tenant, in that tenant's context.
          useFactory: (directory?: TenantDirectory) =>
            new Forwarder(
              options.tenant === undefined && directory?.enabled === true
                ? { ...resolved, tenant: tenantInContext(directory) }
                : resolved,
            ),
          inject: [{ token: TenantDirectory, optional: true }],
        },
        { provide: NatsForwarder, useExisting: Forwarder },
      ],
      exports: [NatsForwarder],
    };
  }
}

/**
 * The tenant token under `EventCoreModule.forRoot({ tenancy })`: the tenant in context. Without
 * one the publish fails (and is retried, visibly) rather than going out under a wrong tenant.
 */
function tenantInContext(directory: TenantDirectory): (event: RecordedEvent) => string {
  return (event) => {
    const tenantId = directory.currentTenantId();
    if (tenantId === undefined) {
      throw new Error(
        `event ${event.id} has no tenant in context: under tenancy the forwarder runs in each tenant's context; if you run it elsewhere, pass the tenant option`,
      );
    }
    return tenantId;
  };
}
