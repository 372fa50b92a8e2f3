import {
  type Counter,
  createNoopMeter,
  type Histogram,
  metrics,
  ProxyTracer,
  type Span,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

/** Name of EventCore's tracer and meter (instrumentation scope). */
export const TELEMETRY_SCOPE = 'eventcore';

/** How a command execution ended, as a metric attribute. */
export type CommandOutcome = 'written' | 'no-op' | 'replayed' | string;

/** One command execution being observed. */
export interface CommandObservation {
  readonly span: Span;
  readonly commandName: string;
  readonly started: number;
}

/**
 * Spans and metrics of command execution through `@opentelemetry/api` only. Instruments are taken
 * when the executor is built, so register your SDK before creating it (before the Nest
 * application); without one, {@link CommandTelemetry.create} returns nothing and the executor skips
 * telemetry altogether.
 *
 * - span `eventcore.command <name>` with the attempts, events written, outcome and error code;
 * - counter `eventcore.commands` {command, outcome}; counter `eventcore.command.conflicts` {command};
 * - histogram `eventcore.command.duration` (ms) {command, outcome};
 * - histogram `eventcore.store.duration` (ms) {operation}.
 */
export class CommandTelemetry {
  private readonly tracer = trace.getTracer(TELEMETRY_SCOPE);
  private readonly commands: Counter;
  private readonly conflicts: Counter;
  private readonly duration: Histogram;
  private readonly storeDuration: Histogram;

  /**
   * Telemetry for a new executor, or `undefined` when neither a tracer nor a meter provider is
   * registered: the API's no-ops still cost a span object, attribute objects and clock reads per
   * command, for nothing.
   */
  static create(): CommandTelemetry | undefined {
    const tracing = !(trace.getTracer(TELEMETRY_SCOPE) instanceof ProxyTracer);
    const metering = metrics.getMeter(TELEMETRY_SCOPE) !== createNoopMeter();
    return tracing || metering ? new CommandTelemetry() : undefined;
  }

  constructor() {
    const meter = metrics.getMeter(TELEMETRY_SCOPE);
    this.commands = meter.createCounter('eventcore.commands', {
      description: 'Command executions by outcome',
    });
    this.conflicts = meter.createCounter('eventcore.command.conflicts', {
      description: 'Concurrency conflicts met by commands (each one retried or reported)',
    });
    this.duration = meter.createHistogram('eventcore.command.duration', {
      description: 'Command execution time, retries included',
      unit: 'ms',
    });
    this.storeDuration = meter.createHistogram('eventcore.store.duration', {
      description: 'Event store calls made by the executor',
      unit: 'ms',
    });
  }

  start(commandName: string): CommandObservation {
    const span = this.tracer.startSpan(`eventcore.command ${commandName}`, {
      attributes: { 'eventcore.command': commandName },
    });
    return { span, commandName, started: performance.now() };
  }

  conflict(observation: CommandObservation, attempt: number): void {
    this.conflicts.add(1, { command: observation.commandName });
    observation.span.addEvent('conflict', { 'eventcore.attempt': attempt });
  }

  succeed(
    observation: CommandObservation,
    outcome: CommandOutcome,
    attempts: number,
    events: number,
  ): void {
    observation.span.setAttributes({
      'eventcore.attempts': attempts,
      'eventcore.events': events,
      'eventcore.outcome': outcome,
    });
    this.finish(observation, outcome);
  }

  fail(observation: CommandObservation, error: unknown): void {
    const code = (error as { code?: unknown }).code;
    const outcome = typeof code === 'string' ? code : 'error';
    observation.span.setAttribute('eventcore.outcome', outcome);
    if (error instanceof Error) observation.span.recordException(error);
    observation.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    this.finish(observation, outcome);
  }

  storeCall(operation: 'readStreams' | 'read' | 'append', started: number): void {
    this.storeDuration.record(performance.now() - started, { operation });
  }

  private finish(observation: CommandObservation, outcome: string): void {
    const attributes = { command: observation.commandName, outcome };
    this.commands.add(1, attributes);
    this.duration.record(performance.now() - observation.started, attributes);
    observation.span.end();
  }
}
