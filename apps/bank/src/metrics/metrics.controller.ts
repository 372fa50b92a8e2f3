import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Injection token of the Prometheus exporter. */
export const PROMETHEUS_EXPORTER = 'BANK:PROMETHEUS_EXPORTER';

/** `GET /metrics`: EventCore's commands, conflicts, latencies and projection lag for Prometheus. */
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(PROMETHEUS_EXPORTER) private readonly exporter: PrometheusExporter) {}

  @Get()
  scrape(@Req() request: IncomingMessage, @Res() response: ServerResponse): void {
    this.exporter.getMetricsRequestHandler(request, response);
  }
}
