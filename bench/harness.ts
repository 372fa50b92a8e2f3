/** One benchmark scenario: `run` does the work once and returns how many units it processed. */
export interface Scenario {
  readonly name: string;
  readonly unit: string;
  readonly concurrency: number;
  /** Prepares state shared by every run (not timed). */
  setup?(): Promise<void>;
  /** Prepares one run, e.g. opens the accounts it uses (not timed; before each run, warm-up too). */
  prepare?(): Promise<void>;
  /** Does a measured amount of work; returns the units done (commands, events). */
  run(quick: boolean): Promise<number>;
  teardown?(): Promise<void>;
  /** Name of a raw-limit scenario measured in the same run, whose median this one is compared to. */
  readonly rawLimit?: string;
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
    for (let i = 0; i < runs; i++) {
      await scenario.prepare?.();
      const started = process.hrtime.bigint();
      const units = await scenario.run(quick);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      rates.push(units / seconds);
    }
    rates.sort((a, b) => a - b);
    return {
      name: scenario.name,
      unit: scenario.unit,
      median: round(rates[Math.floor(rates.length / 2)]!),
      min: round(rates[0]!),
      max: round(rates[rates.length - 1]!),
      runs,
      concurrency: scenario.concurrency,
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

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
