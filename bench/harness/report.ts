// Turns merged load results into the report: the JSON document (--json, report.json), the markdown page
// (report.md, stdout) and the comparison ratios. Pure functions of the measured data.
import * as hdr from 'hdr-histogram-js';
import { latencySummary, type LatencySummaryMs, type LoadResult } from './recorder.js';

export interface SeriesPoint {
  second: number;
  requestsPerSecond: number;
  ok: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
}

export interface TargetReport {
  endpoint: string;
  workload: string;
  keys: Record<string, string>;
  measuredSeconds: number;
  requests: { total: number; ok: number; non2xx: number; transportErrors: number; timeouts: number };
  /** Transport errors by cause (ECONNREFUSED, ECONNRESET, timeout...); present when there were any. */
  transportErrorsByCause?: Record<string, number>;
  throughputRps: number;
  successRps: number;
  latencyMs: LatencySummaryMs;
  statusCounts: Record<string, number>;
  errorsByCode: Record<string, number>;
  throttles: number;
  operations: Record<string, { ok: number; errors: number }>;
  /** Present when --server-pid was given for a loopback endpoint. */
  serverCpuSeconds?: number;
  /** Successful requests per server CPU-second: the figure issue 6 compares. */
  requestsPerServerCpuSecond?: number;
  clientCpuSeconds: number;
  signing: { signatures: number; microsPerSignature: number };
  /** Paced open loop only: how late the generator issued requests against the schedule. */
  sendLagMs?: LatencySummaryMs;
  series: SeriesPoint[];
}

export interface Ratio {
  metric: string;
  endpoint: number;
  compare: number;
  /** endpoint / compare. */
  ratio: number;
}

export interface BenchReport {
  generatedAt: string;
  config: {
    workload: string;
    connections: number;
    rate?: number;
    /** How a fixed rate was delivered: evenly spaced, or autocannon's per-second bursts. */
    arrivals?: 'even' | 'autocannon';
    durationSeconds: number;
    rounds: number;
    workers: number;
    payloadBytes: number;
    region: string;
    credentialSource: string;
  };
  targets: TargetReport[];
  comparison?: Ratio[];
  /** Stopped early (Ctrl-C): the figures cover only what was measured until then. */
  interrupted?: true;
}

const THROTTLE_CODES = new Set(['ThrottlingException', 'Throttling', 'ThrottledException', 'TooManyRequestsException',
  'RequestLimitExceeded', 'HTTP_429']);

const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

function percentileMs(encoded: string, percentile: number): number {
  const histogram = hdr.decodeFromCompressedBase64(encoded, 32);
  return histogram.totalCount === 0 ? 0 : Math.round(histogram.getValueAtPercentile(percentile)) / 1000;
}

export function summarizeTarget(input: { endpoint: string; workload: string; keys: Record<string, string>;
  result: LoadResult; serverCpuSeconds?: number; clientCpuSeconds: number }): TargetReport {
  const { result } = input;
  const seconds = result.elapsedMs / 1000;
  const throttles = Object.entries(result.errorCodes).filter(([code]) => THROTTLE_CODES.has(code))
    .reduce((sum, [, count]) => sum + count, 0);
  const report: TargetReport = {
    endpoint: input.endpoint,
    workload: input.workload,
    keys: input.keys,
    measuredSeconds: round(seconds, 2),
    requests: { total: result.responses + result.transportErrors, ok: result.ok, non2xx: result.non2xx,
      transportErrors: result.transportErrors, timeouts: result.timeouts },
    throughputRps: seconds > 0 ? round(result.responses / seconds) : 0,
    successRps: seconds > 0 ? round(result.ok / seconds) : 0,
    latencyMs: latencySummary(result.latency),
    ...(result.transportErrors > 0 ? { transportErrorsByCause: result.transportErrorCauses } : {}),
    statusCounts: result.statusCounts,
    errorsByCode: result.errorCodes,
    throttles,
    operations: result.operations,
    clientCpuSeconds: round(input.clientCpuSeconds, 2),
    signing: { signatures: result.signatures,
      microsPerSignature: result.signatures > 0 ? round(result.signingMicros / result.signatures, 2) : 0 },
    series: result.series.map((sample) => ({
      second: sample.second, requestsPerSecond: sample.responses, ok: sample.ok, errors: sample.errors,
      p50Ms: percentileMs(sample.histogram, 50), p99Ms: percentileMs(sample.histogram, 99),
    })),
  };
  if (result.sendLag !== undefined) report.sendLagMs = latencySummary(result.sendLag);
  if (input.serverCpuSeconds !== undefined) {
    report.serverCpuSeconds = round(input.serverCpuSeconds, 2);
    report.requestsPerServerCpuSecond = input.serverCpuSeconds > 0 ? round(result.ok / input.serverCpuSeconds) : 0;
  }
  return report;
}

/** Ratios endpoint/compare for every metric both sides have. */
export function compareTargets(endpoint: TargetReport, compare: TargetReport): Ratio[] {
  const metrics: [string, (t: TargetReport) => number | undefined][] = [
    ['throughput req/s', (t) => t.throughputRps],
    ['successful req/s', (t) => t.successRps],
    ['latency p50 ms', (t) => t.latencyMs.p50],
    ['latency p90 ms', (t) => t.latencyMs.p90],
    ['latency p99 ms', (t) => t.latencyMs.p99],
    ['latency p99.9 ms', (t) => t.latencyMs.p99_9],
    ['requests per server CPU-second', (t) => t.requestsPerServerCpuSecond],
  ];
  return metrics.flatMap(([metric, of]) => {
    const a = of(endpoint);
    const b = of(compare);
    if (a === undefined || b === undefined) return [];
    return [{ metric, endpoint: a, compare: b, ratio: b === 0 ? (a === 0 ? 1 : Infinity) : round(a / b, 3) }];
  });
}

const table = (header: readonly string[], rows: readonly (readonly (string | number)[])[]): string =>
  [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');

const counts = (record: Record<string, number>): string =>
  Object.keys(record).length === 0 ? 'none'
    : Object.entries(record).sort(([, a], [, b]) => b - a).map(([key, value]) => `${key} ${value}`).join(', ');

export function renderMarkdown(report: BenchReport, charts: { throughput?: string; latency?: string } = {}): string {
  const { config } = report;
  const lines = [
    `# kms-engine bench: ${config.workload}`,
    '',
    `${report.generatedAt}; ${config.rate ? `open loop at ${config.rate} req/s (${config.arrivals === 'autocannon'
      ? "autocannon's per-second bursts" : 'evenly spaced arrivals'}) on at most ${config.connections} connections`
      : `${config.connections} connections`}, ` +
      `${config.durationSeconds} s measured per endpoint` +
      `${report.targets.length > 1 ? ` in ${config.rounds} alternating rounds` : ''}, ${config.workers} load thread(s), ` +
      `payload ${config.payloadBytes} B, region ${config.region}, credentials: ${config.credentialSource}.`,
    '',
    ...(report.interrupted ? ['**Interrupted** (Ctrl-C): the figures cover only what was measured until then.', ''] : []),
    table(['endpoint', 'requests', '2xx', 'non-2xx', 'transport errors', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms',
      'p99.9 ms', 'server CPU-s', 'req per server CPU-s'],
    report.targets.map((t) => [t.endpoint, t.requests.total, t.requests.ok, t.requests.non2xx, t.requests.transportErrors,
      t.throughputRps, t.latencyMs.p50, t.latencyMs.p90, t.latencyMs.p99, t.latencyMs.p99_9,
      t.serverCpuSeconds ?? '-', t.requestsPerServerCpuSecond ?? '-'])),
    '',
  ];
  for (const t of report.targets) {
    lines.push(`## ${t.endpoint}`, '',
      `- errors by code: ${counts(t.errorsByCode)}; throttles: ${t.throttles}`,
      `- status codes: ${counts(t.statusCounts)}`,
      ...(t.transportErrorsByCause ? [`- transport errors by cause: ${counts(t.transportErrorsByCause)}`] : []),
      `- operations: ${Object.entries(t.operations).map(([op, c]) => `${op} ${c.ok} ok / ${c.errors} failed`).join(', ') || 'none'}`,
      `- keys: ${Object.entries(t.keys).map(([scenario, key]) => `${scenario} ${key}`).join(', ')}`,
      `- harness: ${t.clientCpuSeconds} CPU-s, ${t.signing.signatures} signatures at ${t.signing.microsPerSignature} us each`,
      ...(t.sendLagMs ? [`- send lag (generator behind its schedule): p50 ${t.sendLagMs.p50} ms, p99 ${t.sendLagMs.p99} ms, max ${t.sendLagMs.max} ms`] : []),
      '');
  }
  if (report.comparison) {
    lines.push('## Comparison (endpoint / compare)', '',
      table(['metric', report.targets[0]!.endpoint, report.targets[1]!.endpoint, 'ratio'],
        report.comparison.map((r) => [r.metric, r.endpoint, r.compare, r.ratio])), '');
  }
  if (charts.throughput) lines.push(`![throughput over time](${charts.throughput})`, '');
  if (charts.latency) lines.push(`![latency over time](${charts.latency})`, '');
  return lines.join('\n');
}
