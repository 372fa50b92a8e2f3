import { type BatchObservableCallback, metrics } from '@opentelemetry/api';
import { TELEMETRY_SCOPE } from '@eventcore/core';
import type { LogHoldBackMonitor } from './log-hold-back.monitor';
import type { ProjectionRegistry } from './projection.registry';

/**
 * Publishes projection progress as OpenTelemetry observable metrics, read from the registry when the
 * application's SDK collects: `eventcore.projection.lag.events`, `eventcore.projection.lag.seconds`,
 * `eventcore.projection.events.handled` and `eventcore.projection.faulted` (1 or 0), each with a
 * `projection` attribute; and, from the monitor's latest answer, `eventcore.log.held_back.seconds`
 * (Prometheus: `eventcore_log_held_back_seconds`), not observed while unknown. Returns a function
 * that stops publishing.
 */
export function observeProjections(
  registry: ProjectionRegistry,
  heldBack?: LogHoldBackMonitor,
): () => void {
  const meter = metrics.getMeter(TELEMETRY_SCOPE);
  const lagEvents = meter.createObservableGauge('eventcore.projection.lag.events', {
    description: 'Events the projection has not handled yet',
  });
  const lagSeconds = meter.createObservableGauge('eventcore.projection.lag.seconds', {
    description: 'Age of the oldest event the projection has not handled',
    unit: 's',
  });
  const handled = meter.createObservableCounter('eventcore.projection.events.handled', {
    description: 'Events handled since this instance started the projection',
  });
  const faulted = meter.createObservableGauge('eventcore.projection.faulted', {
    description: '1 while the projection is faulted',
  });
  const logHeldBack = meter.createObservableGauge('eventcore.log.held_back.seconds', {
    description:
      'How long committed events have waited behind an open write transaction on the database server (0 when none)',
    unit: 's',
  });
  const callback: BatchObservableCallback = (result) => {
    const latest = heldBack?.latest();
    if (latest !== undefined) result.observe(logHeldBack, latest.heldBackSeconds);
    for (const status of registry.list()) {
      const attributes = { projection: status.name };
      result.observe(lagEvents, status.lagEvents, attributes);
      result.observe(lagSeconds, status.lagSeconds, attributes);
      result.observe(handled, status.handledEvents, attributes);
      result.observe(faulted, status.state === 'faulted' ? 1 : 0, attributes);
    }
  };
  const observables = [lagEvents, lagSeconds, handled, faulted, logHeldBack];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
