// Issue 6's row "p99 latency at 50% of the engine's peak rate: <= 5 ms, and <= 1.5x the bare server's p99 at
// the same rate". First the engine's peak: Encrypt closed loop on 64 connections (the table's encrypt setting).
// Then both the engine and the reference server at half that rate, open loop with evenly spaced arrivals (the
// harness's paced loader: autocannon's overallRate would send each connection's per-second budget in one burst
// and measure closed-loop queueing instead), in alternating rounds, and their p99s compared.
import { runBenchmark, type BenchHooks } from '../harness/benchmark.js';
import type { BenchOptions } from '../harness/options.js';
import type { BenchReport, TargetReport } from '../harness/report.js';
import { parseMix } from '../harness/scenarios.js';

export const P99_LIMIT_MS = 5;
export const P99_RATIO_LIMIT = 1.5;
/** A target that got less than this share of the offered rate was not measured at that rate. */
export const DELIVERED_SHARE = 0.95;

/** Half the engine's peak successful rate, in whole requests per second (at least 1). */
export function halfPeakRate(peak: BenchReport): number {
  return Math.max(1, Math.round(peak.targets[0]!.successRps / 2));
}

export interface HalfPeakSummary {
  peakRps: number;
  rate: number;
  engineP99Ms: number;
  referenceP99Ms: number;
  /** engine p99 / reference p99. */
  p99Ratio: number;
  engineRps: number;
  referenceRps: number;
  /** Both targets answered at least DELIVERED_SHARE of the offered rate, without errors. */
  delivered: boolean;
  /** The generator's worst p99 send lag over both targets (ms): small means the latencies are the servers'. */
  sendLagP99Ms?: number;
  meetsAbsolute: boolean;
  meetsRelative: boolean;
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;
const clean = (t: TargetReport): boolean => t.requests.non2xx === 0 && t.requests.transportErrors === 0;

/** The row from the peak run (engine alone) and the fixed-rate comparison (engine, then reference). */
export function summarizeHalfPeak(peak: BenchReport, atRate: BenchReport): HalfPeakSummary {
  const [engine, reference] = atRate.targets as [TargetReport, TargetReport];
  const rate = atRate.config.rate ?? halfPeakRate(peak);
  const p99Ratio = reference.latencyMs.p99 === 0 ? Infinity : round3(engine.latencyMs.p99 / reference.latencyMs.p99);
  const lags = [engine, reference].flatMap((t) => (t.sendLagMs ? [t.sendLagMs.p99] : []));
  const delivered = [engine, reference].every((t) => clean(t) && t.successRps >= DELIVERED_SHARE * rate);
  return {
    peakRps: peak.targets[0]!.successRps, rate,
    engineP99Ms: engine.latencyMs.p99, referenceP99Ms: reference.latencyMs.p99, p99Ratio,
    engineRps: engine.successRps, referenceRps: reference.successRps, delivered,
    ...(lags.length > 0 ? { sendLagP99Ms: Math.max(...lags) } : {}),
    meetsAbsolute: delivered && engine.latencyMs.p99 <= P99_LIMIT_MS,
    meetsRelative: delivered && p99Ratio <= P99_RATIO_LIMIT,
  };
}

export interface HalfPeakRun {
  engine: { url: string; pid: number };
  reference: { url: string; pid: number };
  /** Connections, duration, rounds, workers... of the run; mix, rate and endpoints are set here. */
  options: BenchOptions;
  hooks: BenchHooks;
}

export async function runHalfPeak(run: HalfPeakRun): Promise<{ peak: BenchReport; atRate: BenchReport;
  summary: HalfPeakSummary }> {
  const base: BenchOptions = { ...run.options, mix: parseMix('encrypt'), keySpec: undefined,
    endpoint: run.engine.url, serverPids: [run.engine.pid] };
  run.hooks.note?.('peak: engine alone, closed loop');
  const peak = await runBenchmark({ ...base, compare: undefined, compareServerPids: [], rate: undefined }, run.hooks);
  const rate = halfPeakRate(peak);
  run.hooks.note?.(`half of the peak (${peak.targets[0]!.successRps} req/s): ${rate} req/s, evenly spaced, engine vs reference`);
  const atRate = await runBenchmark({ ...base, compare: run.reference.url, compareServerPids: [run.reference.pid],
    rate, arrivals: 'even' }, run.hooks);
  return { peak, atRate, summary: summarizeHalfPeak(peak, atRate) };
}
