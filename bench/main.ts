import 'reflect-metadata';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { measure, type Scenario, type ScenarioResult } from './harness';
import { memoryScenarios } from './memory.scenarios';

/**
 * `npm run bench [-- --quick] [--compare FILE] [--only PREFIX]`: runs every scenario, prints a
 * table, writes `bench/results/latest.json`.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const compareFile = valueOf(args, '--compare');
  const only = valueOf(args, '--only');
  const runs = quick ? 3 : 5;
  const scenarios: Scenario[] = [...memoryScenarios()].filter(
    (s) => only === undefined || s.name.startsWith(only),
  );

  const results: ScenarioResult[] = [];
  for (const [i, scenario] of scenarios.entries()) {
    process.stderr.write(`[${i + 1}/${scenarios.length}] ${scenario.name} ...\n`);
    results.push(await measure(scenario, runs, quick));
  }
  for (const result of results) {
    const raw = scenarios.find((s) => s.name === result.name)?.rawLimit;
    const limit = raw === undefined ? undefined : results.find((r) => r.name === raw);
    if (limit !== undefined) {
      result.rawLimit = { name: limit.name, median: limit.median };
      result.ratio = Math.round((result.median / limit.median) * 1000) / 1000;
    }
  }
  const previous =
    compareFile === undefined
      ? undefined
      : (JSON.parse(readFileSync(compareFile, 'utf8')) as { results: ScenarioResult[] });
  printTable(results, previous?.results);
  const dir = join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const output = { machine: machine(), quick, date: new Date().toISOString(), results };
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(output, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

function printTable(results: ScenarioResult[], previous: ScenarioResult[] | undefined): void {
  const rows = results.map((r) => {
    const before = previous?.find((p) => p.name === r.name);
    const change =
      before === undefined
        ? ''
        : `${(((r.median - before.median) / before.median) * 100).toFixed(1)}%`;
    return [
      r.name,
      `${r.median}`,
      `${r.min}`,
      `${r.max}`,
      r.unit,
      r.ratio === undefined ? '' : `${r.ratio}`,
      change,
    ];
  });
  const header = ['scenario', 'median', 'min', 'max', 'unit', 'ratio to raw', 'change'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows]) {
    process.stderr.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}\n`);
  }
}

function machine() {
  return {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

function valueOf(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i === -1 ? undefined : args[i + 1];
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
