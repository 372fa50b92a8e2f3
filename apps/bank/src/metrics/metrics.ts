import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * Registers an OpenTelemetry meter provider whose reader is a Prometheus exporter (served by the
 * app at `/metrics`, not on a port of its own). Call it before creating the app: EventCore takes
 * its instruments when the executor and the projection workers are built.
 */
export function registerPrometheusMetrics(): PrometheusExporter {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));
  return exporter;
}
