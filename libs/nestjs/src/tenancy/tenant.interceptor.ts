import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { from, Observable, switchMap } from 'rxjs';
import type { EventCoreModuleOptions } from '../eventcore-module.options';
import { EVENTCORE_MODULE_OPTIONS } from '../eventcore.module-definition';
import { EVENTCORE_TENANT_CONTEXT, TenantDirectory } from './tenant-directory';
import type { TenantContext } from './tenant-context';
import { checkTenantId } from './tenant-id';
import type { TenantRequest } from './tenant-resolver';

const WITHOUT_TENANT = 'eventcore:without-tenant';

/**
 * Marks a controller or route that acts for no tenant (tenant administration, a liveness probe):
 * the tenant interceptor does not resolve one there, and any command or read of a tenant's store
 * fails with `TenantRequiredError`.
 */
export const WithoutTenant = (): ClassDecorator & MethodDecorator =>
  SetMetadata(WITHOUT_TENANT, true);

/**
 * Registered globally by EventCoreModule; does nothing without `tenancy`. With it, resolves each
 * HTTP request's tenant with the configured resolver, checks the id, opens the tenant (an unknown
 * one is a 404) and runs the pipes and handler inside that tenant's context.
 */
@Injectable()
export class TenantInterceptor implements NestInterceptor {
  constructor(
    @Inject(EVENTCORE_MODULE_OPTIONS) private readonly options: EventCoreModuleOptions,
    @Inject(EVENTCORE_TENANT_CONTEXT) private readonly context: TenantContext,
    private readonly directory: TenantDirectory,
    private readonly reflector: Reflector,
  ) {}

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    const resolver = this.options.tenancy?.resolver;
    if (resolver === undefined || execution.getType() !== 'http') return next.handle();
    const without = this.reflector.getAllAndOverride<boolean | undefined>(WITHOUT_TENANT, [
      execution.getHandler(),
      execution.getClass(),
    ]);
    if (without === true) return next.handle();
    const request = execution.switchToHttp().getRequest<TenantRequest>();
    return from(
      (async () => this.directory.scopeOf(checkTenantId(await resolver.resolve(request))))(),
    ).pipe(
      switchMap(
        (scope) =>
          new Observable<unknown>((subscriber) =>
            this.context.run(scope, () => next.handle().subscribe(subscriber)),
          ),
      ),
    );
  }
}
