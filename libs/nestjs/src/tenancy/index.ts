export * from './tenancy.errors';
export * from './tenant-id';
export * from './tenant-resolver';
export * from './jwt-claim.tenant-resolver';
export * from './header.tenant-resolver';
export * from './tenant-stores';
export { type TenancyOptions } from './tenancy.options';
export * from './tenant-context';
export {
  TenantDirectory,
  EVENTCORE_TENANT_CONTEXT,
  type MoveTenantOptions,
  type RemoveTenantOptions,
  type TenantProjectionsOverview,
} from './tenant-directory';
export { WithoutTenant } from './tenant.interceptor';
export { type TenantSchedulerOptions } from './tenant-projection.scheduler';
