import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { EventCoreHealthModule } from '@eventcore/nestjs';
import { HealthController } from './health.controller';

/** Health endpoints. */
@Module({ imports: [TerminusModule, EventCoreHealthModule], controllers: [HealthController] })
export class HealthModule {}
