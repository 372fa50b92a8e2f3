import { Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import type { ProjectionStatus } from '@eventcore/core';
import { AdminTokenGuard, ProjectionRegistry } from '@eventcore/nestjs';

/**
 * Status and control of the projections, for administrators only (a rebuild empties the read
 * model): every route needs `Authorization: Bearer <admin token>`. An unknown name answers 404.
 */
@Controller('projections')
@UseGuards(AdminTokenGuard)
export class ProjectionsController {
  constructor(private readonly projections: ProjectionRegistry) {}

  @Get()
  list(): ProjectionStatus[] {
    return this.projections.list();
  }

  /**
   * Answers once paused, with the new status; 409 `eventcore.projection_not_active` on an instance
   * where the projection stands by (see docs/projections.md).
   */
  @Post(':name/pause')
  @HttpCode(200)
  pause(@Param('name') name: string): Promise<ProjectionStatus> {
    return this.projections.pause(name);
  }

  /** Answers after the first batch since resuming: `live`, `catching-up` or `faulted` again. */
  @Post(':name/resume')
  @HttpCode(200)
  resume(@Param('name') name: string): Promise<ProjectionStatus> {
    return this.projections.resume(name);
  }

  /** Answers once the read model is emptied; the replay goes on in the background. */
  @Post(':name/rebuild')
  @HttpCode(200)
  rebuild(@Param('name') name: string): Promise<ProjectionStatus> {
    return this.projections.rebuild(name);
  }
}
