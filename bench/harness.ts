/** What one run of an end-to-end scenario measured itself (a load generator in another process). */
export interface MeasuredRun {
  readonly units: number;
  /** The load generator's own measured duration: process start-up is not part of the rate. */
  readonly seconds: number;
  readonly latency: Latency;
}

/** Latency percentiles of a load run, in milliseconds. */
export interface Latency {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * One benchmark scenario: `run` does the work once and returns how many units it processed (or,
 * for a load generator that times itself, a {@link MeasuredRun}).
 */
export interface Scenario {
  readonly name: string;
  readonly unit: string;
  readonly concurrency: number;
  /** Measured runs, when not the bench's default (5; 3 with `--quick`). */
  readonly runs?: number;
  /** Prepares state shared by every run (not timed). */
  setup?(): Promise<void>;
  /** Prepares one run, e.g. opens the accounts it uses (not timed; before each run, warm-up too). */
  prepare?(): Promise<void>;
  /** Does a measured amount of work; returns the units done (commands, events). */
  run(quick: boolean): Promise<number | MeasuredRun>;
  teardown?(): Promise<void>;
  /**
   * Name of a raw-limit scenario measured in the same run, whose median this one is compared to:
   * plain `pg` on a table with EventCore's own columns and indexes (the targets' limit).
   */
  readonly rawLimit?: string;
  /** The same raw work on a minimal table: the physical limit, reported beside `rawLimit`. */
  readonly minimalLimit?: string;
}

/** What a scenario measured, as written to the JSON results. */
export interface ScenarioResult {
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  concurrency: number;
  rawLimit?: { name: string; median: number };
  ratio?: number;
  minimalLimit?: { name: string; median: number };
  minimalRatio?: number;
  /** Medians of the runs' latency percentiles (end-to-end scenarios). */
  latency?: Latency;
}

/** Runs a scenario `runs` times and reports per-second throughput figures. */
export async function measure(
  scenario: Scenario,
  runs: number,
  quick: boolean,
): Promise<ScenarioResult> {
  await scenario.setup?.();
  try {
    await scenario.prepare?.();
    await scenario.run(true); // warm-up: JIT, connections, caches
    const rates: number[] = [];
    const latencies: Latency[] = [];
    for (let i = 0; i < (scenario.runs ?? runs); i++) {
      await scenario.prepare?.();
      const started = process.hrtime.bigint();
      const done = await scenario.run(quick);
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      if (typeof done === 'number') {
        rates.push(done / elapsed);
      } else {
        rates.push(done.units / done.seconds);
        latencies.push(done.latency);
      }
    }
    rates.sort((a, b) => a - b);
    return {
      name: scenario.name,
      unit: scenario.unit,
      median: round(median(rates)),
      min: round(rates[0]!),
      max: round(rates[rates.length - 1]!),
      runs: scenario.runs ?? runs,
      concurrency: scenario.concurrency,
      ...(latencies.length > 0 && {
        latency: {
          p50Ms: round(median(latencies.map((l) => l.p50Ms).sort((a, b) => a - b))),
          p99Ms: round(median(latencies.map((l) => l.p99Ms).sort((a, b) => a - b))),
        },
      }),
    };
  } finally {
    await scenario.teardown?.();
  }
}

/** Runs `total` tasks with at most `concurrency` in flight. */
export async function runConcurrently(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

/** The middle value of a sorted list (the upper one of an even count, as the harness always did). */
function median(sorted: readonly number[]): number {
  return sorted[Math.floor(sorted.length / 2)]!;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
