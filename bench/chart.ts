import type { ScenarioResult } from './harness';

const WIDTH = 860;
const HEIGHT = 420;
const PAD = { left: 70, right: 310, top: 40, bottom: 50 };

/** One line of a chart: points (x, y) in x order. */
export interface Series {
  readonly label: string;
  readonly color: string;
  readonly dashed?: boolean;
  readonly points: readonly (readonly [number, number])[];
}

/**
 * Commands/s against concurrency for single-stream and transfer commands, with the raw limits as
 * dashed lines: one-row inserts into a minimal table and into the store's own table, and the raw
 * read-then-insert transfer (measured at fewer levels): hand-written SVG (no dependency).
 * Concurrency is on a log scale.
 */
export function commandsVsConcurrencySvg(
  results: readonly ScenarioResult[],
  levels: readonly number[],
  title: string,
): string {
  const pick = (prefix: string) =>
    levels
      .map((c) => [c, results.find((r) => r.name === `${prefix}.c${c}`)?.median] as const)
      .filter((p): p is readonly [number, number] => p[1] !== undefined);
  const series: Series[] = [
    {
      label: 'raw one-row insert, minimal table',
      color: '#aaaaaa',
      dashed: true,
      points: pick('pg.raw.insert'),
    },
    {
      label: "raw one-row insert, store's table",
      color: '#444444',
      dashed: true,
      points: pick('pg.raw.schema.insert'),
    },
    {
      label: 'single-stream command (cached)',
      color: '#1f77b4',
      points: pick('pg.command.single'),
    },
    {
      label: 'transfer, 2 streams (cached)',
      color: '#d62728',
      points: pick('pg.command.transfer'),
    },
    {
      label: "raw read-then-insert transfer, store's table",
      color: '#d62728',
      dashed: true,
      points: pick('pg.raw.schema.transfer'),
    },
  ];
  return lineChartSvg({ title, xLabel: 'concurrent clients', yLabel: 'per second', series });
}

/** What {@link lineChartSvg} draws. */
export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** How an x value is written under its tick. @default the number */
  readonly xTick?: (x: number) => string;
}

/**
 * A line chart as hand-written SVG (no dependency): x on a log scale with a tick at every point's
 * x, y from 0; one legend line per series, dashed series for limits.
 */
export function lineChartSvg(chart: LineChart): string {
  const { title, series } = chart;
  const levels = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort(
    (a, b) => a - b,
  );
  const tick = chart.xTick ?? String;
  const maxY = niceCeiling(Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1]))));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const logMin = Math.log2(Math.min(...levels));
  const logMax = Math.log2(Math.max(...levels));
  const x = (c: number) => PAD.left + ((Math.log2(c) - logMin) / (logMax - logMin || 1)) * plotW;
  const y = (v: number) => PAD.top + plotH - (v / maxY) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14">${escape(title)}</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (maxY / 5) * i;
    parts.push(
      `<line x1="${PAD.left}" y1="${y(v)}" x2="${PAD.left + plotW}" y2="${y(v)}" stroke="#e5e5e5"/>`,
      `<text x="${PAD.left - 8}" y="${y(v) + 4}" text-anchor="end">${Math.round(v).toLocaleString('en-US')}</text>`,
    );
  }
  for (const c of levels) {
    parts.push(
      `<line x1="${x(c)}" y1="${PAD.top + plotH}" x2="${x(c)}" y2="${PAD.top + plotH + 5}" stroke="#333"/>`,
      `<text x="${x(c)}" y="${PAD.top + plotH + 20}" text-anchor="middle">${escape(tick(c))}</text>`,
    );
  }
  parts.push(
    `<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${PAD.left + plotW}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<text x="${PAD.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escape(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const path = s.points.map(([c, v]) => `${x(c).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      ...s.points.map(
        ([c, v]) =>
          `<circle cx="${x(c).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"><title>${escape(s.label)} at ${escape(tick(c))}: ${Math.round(v)}</title></circle>`,
      ),
    );
    const ly = PAD.top + 10 + i * 20;
    const lx = PAD.left + plotW + 12;
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${lx + 26}" y="${ly + 4}">${escape(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceCeiling(value: number): number {
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
