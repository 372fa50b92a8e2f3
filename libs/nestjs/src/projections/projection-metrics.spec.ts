import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemoryEventStore } from '@eventcore/core';
import { CommandBus } from '../command-bus';
import { ProjectionRegistry } from './projection.registry';
import { Add, createTestApp, eventually } from './__fixtures__/projection-fixtures';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

describe('projection metrics', () => {
  const reader = new TestReader();
  beforeAll(() => metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] })));
  afterAll(() => metrics.disable());

  it('publishes lag, handled events and faults per projection when the SDK collects', async () => {
    const store = new InMemoryEventStore();
    const app = await createTestApp({ store });
    try {
      const bus = app.get(CommandBus);
      for (let i = 0; i < 5; i++) await bus.execute(new Add(`c${i}`, i));
      const registry = app.get(ProjectionRegistry);
      await eventually(() => registry.get('counters').handledEvents === 5, '5 handled');
      const { resourceMetrics } = await reader.collect();
      const byName = new Map(
        resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]),
      );
      const value = (name: string) =>
        byName.get(name)?.dataPoints.find((p) => p.attributes.projection === 'counters')?.value;
      expect(value('eventcore.projection.events.handled')).toBe(5);
      expect(value('eventcore.projection.lag.events')).toBe(0);
      expect(value('eventcore.projection.faulted')).toBe(0);
    } finally {
      await app.close();
    }
  });
});
