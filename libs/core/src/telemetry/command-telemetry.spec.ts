import 'reflect-metadata';
import { metrics, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  accountStream,
  Deposit,
  OpenAccount,
  SpyStore,
  Withdraw,
} from '../command/__fixtures__/bank.commands';
import { CommandExecutor } from '../command/command-executor';
import { ExpectedVersion } from '../store/expected-version';
import { testEvent } from '../testing/event-store.contract';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

function points(
  collected: ResourceMetrics,
  name: string,
): { attributes: Record<string, unknown>; value: unknown }[] {
  const metric = collected.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value }));
}

describe('command telemetry (OpenTelemetry API)', () => {
  const spans = new InMemorySpanExporter();
  const reader = new TestReader();

  beforeAll(() => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
    );
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  });

  afterAll(() => {
    trace.disable();
    metrics.disable();
  });

  it('records a span per command with attempts and outcome, and counts commands, conflicts and durations', async () => {
    const store = new SpyStore();
    const executor = new CommandExecutor(store, { sleep: async () => undefined });
    await executor.execute(new OpenAccount(accountStream('1'), 'Ann'));
    // A competing write before the first append forces one conflict and a retry.
    store.hooks.beforeAppend = async (_writes, call) => {
      if (call === 2) {
        await store.inner.append([
          {
            streamId: accountStream('1'),
            expected: ExpectedVersion.any,
            events: [testEvent('MoneyDeposited', { amount: 1 })],
          },
        ]);
      }
    };
    await executor.execute(new Deposit(accountStream('1'), 5));
    await expect(executor.execute(new Withdraw(accountStream('1'), 1_000))).rejects.toThrow(
      'insufficient funds',
    );

    const finished = spans.getFinishedSpans();
    expect(finished.map((s) => s.name)).toEqual([
      'eventcore.command OpenAccount',
      'eventcore.command Deposit',
      'eventcore.command Withdraw',
    ]);
    expect(finished[1]!.attributes).toMatchObject({
      'eventcore.attempts': 2,
      'eventcore.events': 1,
      'eventcore.outcome': 'written',
    });
    expect(finished[1]!.events.map((e) => e.name)).toEqual(['conflict']);
    expect(finished[2]!.attributes['eventcore.outcome']).toBe('eventcore.business_rule_violation');
    expect(finished[2]!.status.code).toBe(2); // ERROR

    const { resourceMetrics } = await reader.collect();
    expect(points(resourceMetrics, 'eventcore.commands')).toEqual(
      expect.arrayContaining([
        { attributes: { command: 'Deposit', outcome: 'written' }, value: 1 },
        {
          attributes: { command: 'Withdraw', outcome: 'eventcore.business_rule_violation' },
          value: 1,
        },
      ]),
    );
    expect(points(resourceMetrics, 'eventcore.command.conflicts')).toEqual([
      { attributes: { command: 'Deposit' }, value: 1 },
    ]);
    const appends = points(resourceMetrics, 'eventcore.store.duration').find(
      (p) => p.attributes.operation === 'append',
    );
    expect((appends?.value as { count: number }).count).toBe(3);
  });
});
