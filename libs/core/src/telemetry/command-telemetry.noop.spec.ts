import 'reflect-metadata';
import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { accountStream, Deposit, OpenAccount } from '../command/__fixtures__/bank.commands';
import { CommandExecutor } from '../command/command-executor';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import { CommandTelemetry } from './command-telemetry';

describe('CommandTelemetry.create', () => {
  afterEach(() => {
    trace.disable();
    metrics.disable();
  });

  it('gives nothing without an SDK, and the executor runs commands without telemetry', async () => {
    expect(CommandTelemetry.create()).toBeUndefined();
    const executor = new CommandExecutor(new InMemoryEventStore());
    await executor.execute(new OpenAccount(accountStream('1'), 'Ann'));
    const result = await executor.execute(new Deposit(accountStream('1'), 5));
    expect(result.events).toHaveLength(1);
  });

  it('gives telemetry when a tracer provider is registered', () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    expect(CommandTelemetry.create()).toBeInstanceOf(CommandTelemetry);
  });

  it('gives telemetry when a meter provider is registered', () => {
    metrics.setGlobalMeterProvider(new MeterProvider());
    expect(CommandTelemetry.create()).toBeInstanceOf(CommandTelemetry);
  });
});
