import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { EVENTCORE_PROJECTION_METADATA } from '../eventcore.constants';
import type { ProjectionOptions } from './projection.decorator';

/** Reads `@Projection()` metadata; the only place that knows the metadata key. */
@Injectable()
export class ProjectionMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  /** The options given to `@Projection()`, or `undefined` when `target` is not decorated. */
  getOptions(target: unknown): ProjectionOptions | undefined {
    if (typeof target !== 'function') return undefined;
    return this.reflector.get<ProjectionOptions | undefined>(EVENTCORE_PROJECTION_METADATA, target);
  }
}
