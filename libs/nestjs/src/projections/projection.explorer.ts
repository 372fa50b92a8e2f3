import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { InvalidProjectionError, type ProjectionDefinition } from '@eventcore/core';
import { ProjectionMetadataAccessor } from './projection-metadata.accessor';
import type { ProjectionOptions } from './projection.decorator';
import { ProjectionHost } from './projection.host';

type ProviderWrapper = ReturnType<DiscoveryService['getProviders']>[number];

/** A `@Projection()` provider found at startup. */
export interface DiscoveredProjection {
  readonly definition: ProjectionDefinition;
  readonly host: ProjectionHost;
  readonly className: string;
}

/** Finds the `@Projection()` providers of the application (public `DiscoveryService` only). */
@Injectable()
export class ProjectionExplorer {
  private readonly logger = new Logger('EventCore');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly metadata: ProjectionMetadataAccessor,
  ) {}

  /**
   * Every decorated singleton provider, with its definition. Request-scoped and transient ones are
   * skipped with a warning: a projection needs one long-lived instance to hold its worker.
   * @throws InvalidProjectionError for a class that does not extend ProjectionHost, malformed
   * options, or two projections with one name.
   */
  explore(): DiscoveredProjection[] {
    const found = new Map<string, DiscoveredProjection>();
    for (const wrapper of this.discovery.getProviders()) {
      // `useExisting` aliases point at a provider that is visited on its own.
      if (wrapper.isAlias) continue;
      const target = targetOf(wrapper);
      const options = this.metadata.getOptions(target);
      if (options === undefined) continue;
      const className = (target as { name?: string }).name || 'an anonymous class';
      if (wrapper.isTransient || !wrapper.isDependencyTreeStatic()) {
        this.logger.warn(
          `Projection ${String(options.name)} (${className}) is request-scoped or transient; it is skipped. Make it a singleton provider.`,
        );
        continue;
      }
      const projection = toDiscovered(options, wrapper.instance, className);
      const previous = found.get(projection.definition.name);
      if (previous !== undefined) {
        throw new InvalidProjectionError(
          projection.definition.name,
          `the name is used by both ${previous.className} and ${className}; give each projection its own name`,
        );
      }
      found.set(projection.definition.name, projection);
    }
    return [...found.values()];
  }
}

/** The class to read metadata from (factory and value providers are known by their instance). */
function targetOf(wrapper: ProviderWrapper): unknown {
  const instance = wrapper.instance as object | null | undefined;
  return !wrapper.metatype || wrapper.inject ? instance?.constructor : wrapper.metatype;
}

function toDiscovered(
  options: ProjectionOptions,
  instance: unknown,
  className: string,
): DiscoveredProjection {
  const name = String(options.name);
  if (!(instance instanceof ProjectionHost)) {
    throw new InvalidProjectionError(
      name,
      `${className} is decorated with @Projection() but does not extend ProjectionHost`,
    );
  }
  checkList(name, 'streams', options.streams);
  checkList(name, 'eventTypes', options.eventTypes);
  if (options.includeArchived !== undefined && typeof options.includeArchived !== 'boolean') {
    throw new InvalidProjectionError(name, 'includeArchived must be true or false');
  }
  return {
    className,
    host: instance,
    definition: {
      name: options.name,
      filter: {
        streamPrefixes: options.streams,
        eventTypes: options.eventTypes,
        ...(options.includeArchived === false ? { includeArchived: false } : {}),
      },
      batchSize: options.batchSize,
      batchWindowMs: options.batchWindowMs,
      errorPolicy: options.errorPolicy,
      pollIntervalMs: options.pollIntervalMs,
    },
  };
}

function checkList(name: string, field: string, value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
    throw new InvalidProjectionError(name, `${field} must be a list of non-empty strings`);
  }
}
