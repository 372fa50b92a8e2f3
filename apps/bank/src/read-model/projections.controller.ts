import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { ProjectionStatus } from '@eventcore/core';
import { ProjectionRegistry } from '@eventcore/nestjs';

/** Status and control of the projections; an unknown name answers 404. */
@Controller('projections')
export class ProjectionsController {
  constructor(private readonly projections: ProjectionRegistry) {}

  @Get()
  list(): ProjectionStatus[] {
    return this.projections.list();
  }

  @Post(':name/pause')
  @HttpCode(200)
  pause(@Param('name') name: string): ProjectionStatus {
    this.projections.pause(name);
    return this.projections.get(name);
  }

  @Post(':name/resume')
  @HttpCode(200)
  resume(@Param('name') name: string): ProjectionStatus {
    this.projections.resume(name);
    return this.projections.get(name);
  }

  /** Answers once the read model is emptied; the replay goes on in the background. */
  @Post(':name/rebuild')
  @HttpCode(200)
  async rebuild(@Param('name') name: string): Promise<ProjectionStatus> {
    await this.projections.rebuild(name);
    return this.projections.get(name);
  }
}
