// Writes a run's report files: report.json (the machine-readable document), report.md, and the two
// over-time charts as SVG.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectory } from '../../src/make-directory.js';
import { renderMarkdown, type BenchReport } from './report.js';
import { renderLineChart } from './svg-chart.js';

export const REPORT_FILES = { json: 'report.json', markdown: 'report.md', throughput: 'throughput.svg',
  latency: 'latency.svg' } as const;

export function throughputChart(report: BenchReport): string {
  return renderLineChart({
    title: `Throughput over time: ${report.config.workload}`, xLabel: 'seconds measured', yLabel: 'responses per second',
    series: report.targets.map((t) => ({ name: t.endpoint, points: t.series.map((p) => [p.second, p.requestsPerSecond] as const) })),
  });
}

export function latencyChart(report: BenchReport): string {
  return renderLineChart({
    title: `Latency over time: ${report.config.workload}`, xLabel: 'seconds measured', yLabel: 'milliseconds',
    series: report.targets.flatMap((t) => [
      { name: `p50 ${t.endpoint}`, points: t.series.map((p) => [p.second, p.p50Ms] as const) },
      { name: `p99 ${t.endpoint}`, points: t.series.map((p) => [p.second, p.p99Ms] as const) },
    ]),
  });
}

/**
 * Creates the --out directory (and its parents), called before the run: a directory that cannot be made would
 * otherwise be found only once the run is over, losing its report (and Node 20's recursive mkdir never returns
 * for a path like /proc/nope; src/make-directory.ts).
 */
export function prepareOutputDirectory(dir: string): void {
  makeDirectory(dir);
}

/** Writes every report file into `dir` (created if needed) and returns their paths. */
export async function writeReportFiles(dir: string, report: BenchReport): Promise<string[]> {
  makeDirectory(dir);
  const files: [string, string][] = [
    [REPORT_FILES.json, JSON.stringify(report, null, 2) + '\n'],
    [REPORT_FILES.markdown, renderMarkdown(report, { throughput: REPORT_FILES.throughput, latency: REPORT_FILES.latency })],
    [REPORT_FILES.throughput, throughputChart(report)],
    [REPORT_FILES.latency, latencyChart(report)],
  ];
  await Promise.all(files.map(([name, content]) => writeFile(join(dir, name), content)));
  return files.map(([name]) => join(dir, name));
}
