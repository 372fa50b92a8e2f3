import 'reflect-metadata';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { commandsVsConcurrencySvg } from './chart';
import { e2eScenarios } from './e2e/e2e.scenarios';
import { measure, type Scenario, type ScenarioResult } from './harness';
import { memoryScenarios } from './memory.scenarios';
import { runConvertBench } from './pg-convert.bench';
import { runPartitionAbBench } from './pg-partition-ab.bench';
import { runScaleBench } from './pg-scale.bench';
import { runTenantsBench } from './pg-tenants.bench';
import { CONCURRENCY_LEVELS, type PgBench, pgBench, pgReachable, pgTarget } from './pg.scenarios';

/**
 * `npm run bench [-- --quick] [--compare FILE] [--only PREFIX]`: runs every scenario, prints a
 * table, writes `bench/results/latest.json` and, with the PostgreSQL scenarios, the chart
 * `bench/results/commands-vs-concurrency.svg`. PostgreSQL scenarios run on a fresh database on
 * `EVENTCORE_TEST_DATABASE_URL` (default: the local server), dropped at the end; without a
 * reachable server they are skipped, and the output says so. The end-to-end scenarios (`e2e.*`,
 * the sample bank over HTTP) run in the full bench only, after `npm run build`. `--scale
 * [--scale-max N]` runs the log-size bench instead (see `runScaleBench`); `--convert
 * [--convert-events N]` times the conversion to partitions (see `runConvertBench`);
 * `--partition-ab` compares the partitioned and the unpartitioned table (`runPartitionAbBench`).
 * `--tenants [--tenants-count N]` runs the multi-tenant bench (see `runTenantsBench`).
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--scale')) {
    const max = valueOf(args, '--scale-max');
    return runScaleBench(max === undefined ? Number.POSITIVE_INFINITY : Number(max));
  }
  if (args.includes('--convert')) {
    const events = valueOf(args, '--convert-events');
    return runConvertBench(events === undefined ? 1_000_000 : Number(events));
  }
  if (args.includes('--partition-ab')) return runPartitionAbBench();
  if (args.includes('--tenants')) {
    const count = valueOf(args, '--tenants-count');
    return runTenantsBench(count === undefined ? 1_000 : Number(count));
  }
  const quick = args.includes('--quick');
  const compareFile = valueOf(args, '--compare');
  const only = valueOf(args, '--only');
  const runs = quick ? 3 : 5;
  const wanted = (name: string) => only === undefined || name.startsWith(only);
  const scenarios: Scenario[] = memoryScenarios().filter((s) => wanted(s.name));
  let pg: PgBench | undefined;
  let pgSkipped: string | undefined;
  const pgUp = await pgReachable();
  if (!pgUp) {
    pgSkipped = `no PostgreSQL server at ${pgTarget()} (set EVENTCORE_TEST_DATABASE_URL)`;
    process.stderr.write(`\n*** SKIPPED every pg.* scenario: ${pgSkipped} ***\n\n`);
  } else if (only === undefined || only.startsWith('pg') || 'pg'.startsWith(only)) {
    pg = await pgBench(quick);
    scenarios.push(...pg.scenarios.filter((s) => wanted(s.name)));
  }
  // Over HTTP, with child processes and seconds-long load runs: the full bench only.
  if (!quick) {
    scenarios.push(
      ...e2eScenarios(pgUp ? ['pg', 'pglite'] : ['pglite']).filter((s) => wanted(s.name)),
    );
  }

  const results: ScenarioResult[] = [];
  let server: string | undefined;
  try {
    for (const [i, scenario] of scenarios.entries()) {
      process.stderr.write(`[${i + 1}/${scenarios.length}] ${scenario.name} ...\n`);
      results.push(await measure(scenario, runs, quick));
    }
    if (pg !== undefined) {
      results.push(...pg.extraResults().filter((r) => wanted(r.name)));
      server = await pg.server();
    }
  } finally {
    await pg?.close();
  }
  for (const result of results) {
    const scenario = scenarios.find((s) => s.name === result.name);
    const limit = results.find((r) => r.name === scenario?.rawLimit);
    if (limit !== undefined) {
      result.rawLimit = { name: limit.name, median: limit.median };
      result.ratio = ratio(result, limit);
    }
    const minimal = results.find((r) => r.name === scenario?.minimalLimit);
    if (minimal !== undefined) {
      result.minimalLimit = { name: minimal.name, median: minimal.median };
      result.minimalRatio = ratio(result, minimal);
    }
  }
  const previous =
    compareFile === undefined
      ? undefined
      : (JSON.parse(readFileSync(compareFile, 'utf8')) as { results: ScenarioResult[] });
  printTable(results, previous?.results);
  const dir = join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const output = {
    machine: machine(),
    postgres: server ?? null,
    pgSkipped: pgSkipped ?? null,
    notes:
      'pg.command.* use the executor state cache (an uncontended command is one round trip); ' +
      'pg.command.*.nocache.* run without it. pg.command.long_stream is compared to short_stream. ' +
      'rawLimit: plain pg on a table with the store’s columns and indexes (pg.raw.schema.*); ' +
      'minimalLimit: the same on a minimal table (pg.raw.*).',
    quick,
    date: new Date().toISOString(),
    results,
  };
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(output, null, 2)}\n`);
  if (results.some((r) => r.name.startsWith('pg.command.single.c'))) {
    const title = `EventCore on PostgreSQL ${server ?? ''}: commands/s vs clients (${machine().cpus} CPUs)`;
    writeFileSync(
      join(dir, 'commands-vs-concurrency.svg'),
      commandsVsConcurrencySvg(results, CONCURRENCY_LEVELS, title),
    );
  }
  if (pgSkipped !== undefined) {
    process.stderr.write(`\n*** SKIPPED every pg.* scenario: ${pgSkipped} ***\n`);
  }
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
      r.minimalRatio === undefined ? '' : `${r.minimalRatio}`,
      r.latency === undefined ? '' : `${r.latency.p50Ms} / ${r.latency.p99Ms}`,
      change,
    ];
  });
  const header = [
    'scenario',
    'median',
    'min',
    'max',
    'unit',
    'ratio to raw',
    'to minimal',
    'p50 / p99 ms',
    'change',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows]) {
    process.stderr.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}\n`);
  }
}

function ratio(result: ScenarioResult, limit: ScenarioResult): number {
  return Math.round((result.median / limit.median) * 1000) / 1000;
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
