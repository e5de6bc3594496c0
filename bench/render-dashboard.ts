// Renders the Grafana dashboard (dashboards/kms-engine.json) from real Prometheus data as one SVG, without a
// browser or Grafana: every panel's PromQL is run as a range query (Grafana variables substituted the way
// dashboard-check.ts does), and each panel becomes a line chart from the harness's SVG writer, laid out two per
// row under the dashboard's row titles. docs/dashboard.svg is this script's output.
//
//   npm run build && node dist/bench/render-dashboard.js --prometheus http://127.0.0.1:9090 --out docs/dashboard.svg
//     [--dashboard dashboards/kms-engine.json] [--range 300] [--step 2] [--rate-interval 30s] [--max-series 8]

import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { substituteVariables } from '../src/metrics/dashboard-check.js';
import { escapeXml, renderLineChart, type ChartSeries } from './harness/svg-chart.js';

export interface RenderOptions {
  prometheusUrl: string;
  /** Parsed dashboard JSON. */
  dashboard: unknown;
  /** Seconds of history to draw, ending at `endSeconds` (Unix time; default now). */
  rangeSeconds: number;
  endSeconds?: number;
  stepSeconds: number;
  /** What $__rate_interval stands for; short runs want less than Grafana's usual minute. */
  rateInterval: string;
  /** Series drawn per panel (the highest peaks); the title says how many were left out. */
  maxSeries: number;
}

interface Target {
  expr: string;
  legendFormat?: string;
}

interface Panel {
  type?: string;
  title?: string;
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string } };
}

interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** Grafana units -> a readable axis: scale factor and label. */
const UNITS: Record<string, { scale: number; label: string }> = {
  reqps: { scale: 1, label: 'requests / s' },
  s: { scale: 1000, label: 'milliseconds' },
  percentunit: { scale: 100, label: 'percent' },
  bytes: { scale: 1 / 2 ** 20, label: 'MiB' },
  short: { scale: 1, label: 'count' },
};

/** Each chart (renderLineChart draws 800x400) is shown at 3/4 size, two per row: its nested viewBox scales it. */
const CELL = { width: 600, height: 300 };
const ROW_TITLE_HEIGHT = 34;
const HEADER_HEIGHT = 56;

/** Grafana's legendFormat: `{{label}}` replaced by the series' label value. */
export function legendName(legendFormat: string | undefined, metric: Record<string, string>, expr: string): string {
  if (legendFormat === undefined || legendFormat === '') {
    const labels = Object.entries(metric).filter(([name]) => name !== '__name__');
    return labels.length === 0 ? expr.slice(0, 40) : labels.map(([name, value]) => `${name}=${value}`).join(', ');
  }
  return legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_whole, name: string) => metric[name] ?? '');
}

async function queryRange(options: RenderOptions, query: string, start: number, end: number): Promise<RangeSeries[]> {
  const url = new URL('/api/v1/query_range', options.prometheusUrl);
  url.search = new URLSearchParams({ query, start: String(start), end: String(end), step: String(options.stepSeconds) }).toString();
  const response = await fetch(url);
  const answer = await response.json() as { status?: string; error?: string; data?: { result?: RangeSeries[] } };
  if (answer.status !== 'success') throw new Error(`Prometheus refused ${query}: ${answer.error ?? `HTTP ${response.status}`}`);
  return answer.data?.result ?? [];
}

/** One panel's chart series: every target's result, in the panel's unit, x in seconds from the range start. */
async function panelSeries(options: RenderOptions, panel: Panel, start: number, end: number): Promise<ChartSeries[]> {
  const unit = UNITS[panel.fieldConfig?.defaults?.unit ?? 'short'] ?? UNITS.short!;
  const series: ChartSeries[] = [];
  for (const target of panel.targets ?? []) {
    if (typeof target.expr !== 'string' || target.expr.trim() === '') continue;
    const query = substituteVariables(target.expr, options.dashboard, { rateInterval: options.rateInterval, range: `${options.rangeSeconds}s` });
    for (const result of await queryRange(options, query, start, end)) {
      const points = result.values
        .map(([time, value]) => [time - start, Number(value) * unit.scale] as const)
        .filter(([, value]) => Number.isFinite(value));
      if (points.length > 0) series.push({ name: legendName(target.legendFormat, result.metric, target.expr), points });
    }
  }
  return series;
}

const peak = (series: ChartSeries): number => Math.max(...series.points.map(([, y]) => y));

/** A chart drawn by renderLineChart, placed at (x, y) at CELL size: the writer's root <svg> becomes a nested one. */
function placeChart(chartSvg: string, x: number, y: number): string {
  const withoutDeclaration = chartSvg.replace(/^<\?xml[^>]*\?>\s*/, '');
  return withoutDeclaration.replace(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/,
    `<svg x="${x}" y="${y}" width="${CELL.width}" height="${CELL.height}"`).trimEnd();
}

/** The whole dashboard as one SVG document. */
export async function renderDashboard(options: RenderOptions): Promise<{ svg: string; panels: number; panelsWithData: number }> {
  const end = Math.floor(options.endSeconds ?? Date.now() / 1000);
  const start = end - options.rangeSeconds;
  const dashboard = options.dashboard as { title?: string; panels?: Panel[] };
  const body: string[] = [];
  let y = HEADER_HEIGHT;
  let column = 0;
  let panels = 0;
  let panelsWithData = 0;
  const endRow = (): void => {
    if (column > 0) y += CELL.height;
    column = 0;
  };
  const addRowTitle = (title: string): void => {
    endRow();
    body.push(`<text x="16" y="${y + 24}" font-size="18" font-weight="bold">${escapeXml(title)}</text>`,
      `<line x1="16" y1="${y + 30}" x2="${2 * CELL.width - 16}" y2="${y + 30}" stroke="#999"/>`);
    y += ROW_TITLE_HEIGHT;
  };
  const addPanel = async (panel: Panel): Promise<void> => {
    const all = await panelSeries(options, panel, start, end);
    // Series flat at zero (the throttle counters of every idle quota class) only crowd the legend.
    const moving = all.filter((series) => series.points.some(([, value]) => value !== 0));
    const candidates = moving.length > 0 ? moving : all;
    const shown = [...candidates].sort((a, b) => peak(b) - peak(a)).slice(0, options.maxSeries);
    const unit = UNITS[panel.fieldConfig?.defaults?.unit ?? 'short'] ?? UNITS.short!;
    const notes = [
      candidates.length > shown.length ? `top ${shown.length} of ${candidates.length}` : '',
      all.length > candidates.length ? `${all.length - candidates.length} at zero not drawn` : '',
      all.length === 0 ? 'no data' : '',
    ].filter(Boolean);
    const title = `${panel.title ?? ''}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
    const chart = renderLineChart({ title, xLabel: 'seconds into the window', yLabel: unit.label, series: shown });
    body.push(placeChart(chart, column * CELL.width, y));
    panels++;
    if (all.length > 0) panelsWithData++;
    column++;
    if (column === 2) endRow();
  };
  for (const panel of dashboard.panels ?? []) {
    if (panel.type === 'row') {
      addRowTitle(panel.title ?? '');
      for (const nested of panel.panels ?? []) await addPanel(nested); // a collapsed row keeps its panels inside
    } else {
      await addPanel(panel);
    }
  }
  endRow();
  const width = 2 * CELL.width;
  const height = y + 16;
  const when = new Date(end * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const svg = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`,
    `<text x="16" y="30" font-size="22">${escapeXml(dashboard.title ?? 'dashboard')}</text>`,
    `<text x="16" y="48" fill="#555">${escapeXml(`${options.rangeSeconds} s of Prometheus data ending ${when}, step ${options.stepSeconds} s, rate interval ${options.rateInterval}; ${panelsWithData} of ${panels} panels with data`)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
  return { svg, panels, panelsWithData };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      prometheus: { type: 'string' },
      out: { type: 'string' },
      dashboard: { type: 'string', default: 'dashboards/kms-engine.json' },
      range: { type: 'string', default: '300' },
      step: { type: 'string', default: '2' },
      'rate-interval': { type: 'string', default: '30s' },
      'max-series': { type: 'string', default: '8' },
    },
  });
  if (values.prometheus === undefined || values.out === undefined) {
    console.error('usage: node dist/bench/render-dashboard.js --prometheus URL --out FILE.svg [--dashboard FILE] '
      + '[--range SECONDS] [--step SECONDS] [--rate-interval 30s] [--max-series N]');
    return 2;
  }
  const { svg, panels, panelsWithData } = await renderDashboard({
    prometheusUrl: values.prometheus,
    dashboard: JSON.parse(await readFile(values.dashboard, 'utf8')),
    rangeSeconds: Number(values.range),
    stepSeconds: Number(values.step),
    rateInterval: values['rate-interval'],
    maxSeries: Number(values['max-series']),
  });
  await writeFile(values.out, svg);
  console.log(`${values.out}: ${panels} panels, ${panelsWithData} with data`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: Error) => {
    console.error(`render-dashboard: ${error.message}`);
    process.exitCode = 1;
  });
}
