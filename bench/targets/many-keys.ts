// Issue 6's row "100,000 keys in the store, requests spread over 10,000 of them: >= 0.85 of the one-key
// figure". A second engine is seeded with 100,000 keys (`kms-engine seed`, before it starts) and loaded with
// Encrypt spread evenly over a random 10,000 of them (one pre-signed body per key, visited round robin), in
// alternating rounds against the run's main engine doing Encrypt with one key, as in the table's encrypt row.
// The figure compared is successful requests per server CPU-second, as for every other row.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBenchmark, type BenchHooks } from '../harness/benchmark.js';
import type { BenchOptions } from '../harness/options.js';
import type { BenchReport, TargetReport } from '../harness/report.js';
import { parseMix } from '../harness/scenarios.js';
import type { Credentials } from '../harness/signer.js';
import { seedEngine, startEngine, stop, type Started } from './servers.js';

export const STORE_KEYS = 100_000;
export const SPREAD_KEYS = 10_000;
export const MANY_KEYS_THRESHOLD = 0.85;

/** A seed file's document: `count` symmetric keys with fresh ids (material generated, as CreateKey would). */
export function seedDocument(count: number): { keys: { keyId: string }[] } {
  return { keys: Array.from({ length: count }, () => ({ keyId: randomUUID() })) };
}

/** `n` distinct ids drawn uniformly from `ids` (a partial Fisher-Yates shuffle); `random` returns [0, 1). */
export function sampleKeys(ids: readonly string[], n: number, random: () => number = Math.random): string[] {
  if (n > ids.length) throw new Error(`cannot draw ${n} keys from ${ids.length}`);
  const pool = [...ids];
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n);
}

/**
 * Warm-up before the rounds: long enough for the spread to reach every key at least once at this machine's
 * Encrypt rate (~1,500/s on one key), so the rounds measure the steady state (keys in the engine's caches), not
 * the first unwrap of each key.
 */
export const manyKeysWarmupSeconds = (spreadKeys: number): number => Math.ceil(spreadKeys / 1000) + 5;

export interface ManyKeysSummary {
  storeKeys: number;
  spreadKeys: number;
  seedSeconds: number;
  /** Successful requests per server CPU-second: spread over many keys, and one key (the baseline). */
  manyKeysPerCpuSecond?: number;
  oneKeyPerCpuSecond?: number;
  /** many / one per server CPU-second: the figure the threshold applies to. */
  cpuRatio?: number;
  manyKeysRps: number;
  oneKeyRps: number;
  rpsRatio: number;
  errors: number;
  meetsTarget: boolean;
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : Math.round((a / b) * 1000) / 1000);
const failures = (t: TargetReport): number => t.requests.non2xx + t.requests.transportErrors;

/** The row from a comparison whose endpoint spread over many keys and whose compare used one key. */
export function summarizeManyKeys(report: BenchReport, counts: { storeKeys: number; spreadKeys: number; seedSeconds: number }):
  ManyKeysSummary {
  const [many, one] = report.targets as [TargetReport, TargetReport];
  const cpuRatio = many.requestsPerServerCpuSecond !== undefined && one.requestsPerServerCpuSecond !== undefined
    ? ratio(many.requestsPerServerCpuSecond, one.requestsPerServerCpuSecond) : undefined;
  const errors = failures(many) + failures(one);
  return {
    ...counts, seedSeconds: Math.round(counts.seedSeconds * 10) / 10,
    manyKeysPerCpuSecond: many.requestsPerServerCpuSecond, oneKeyPerCpuSecond: one.requestsPerServerCpuSecond, cpuRatio,
    manyKeysRps: many.successRps, oneKeyRps: one.successRps, rpsRatio: ratio(many.successRps, one.successRps), errors,
    meetsTarget: cpuRatio !== undefined && cpuRatio >= MANY_KEYS_THRESHOLD && errors === 0,
  };
}

export interface ManyKeysRun {
  /** The run's main engine: the one-key baseline. */
  baseline: Started;
  credentials: Credentials;
  /** The baseline's settings over ENGINE_SETTINGS: the seeded engine runs with the same. */
  settings?: Readonly<Record<string, string>>;
  /** Where the seeded engine's data directory and the seed file go. */
  workDir: string;
  /** Connections, duration, rounds, workers... of the run; keys, warm-up and endpoints are set here. */
  options: BenchOptions;
  hooks: BenchHooks;
  storeKeys?: number;
  spreadKeys?: number;
}

/** Seeds and starts the many-keys engine, runs the comparison (after a long warm-up) and stops it. */
export async function runManyKeys(run: ManyKeysRun): Promise<{ report: BenchReport; summary: ManyKeysSummary }> {
  const storeKeys = run.storeKeys ?? STORE_KEYS;
  const spreadKeys = run.spreadKeys ?? SPREAD_KEYS;
  const note = run.hooks.note ?? (() => {});
  const document = seedDocument(storeKeys);
  const seedFile = join(run.workDir, 'seed.json');
  writeFileSync(seedFile, JSON.stringify(document));
  const dataDir = join(run.workDir, 'data');
  note(`seeding ${storeKeys} keys`);
  const seedSeconds = seedEngine(dataDir, run.credentials, seedFile);
  note(`seeded ${storeKeys} keys in ${seedSeconds.toFixed(1)} s`);
  const seeded = await startEngine(dataDir, run.credentials, run.settings);
  try {
    const options: BenchOptions = {
      ...run.options, endpoint: seeded.url, serverPids: [seeded.pid], compare: run.baseline.url,
      compareServerPids: [run.baseline.pid], mix: parseMix('encrypt'), keySpec: undefined, keyId: undefined,
      keyIds: sampleKeys(document.keys.map((k) => k.keyId), spreadKeys), keyCount: undefined, compareKeys: {},
      rate: undefined, warmupSeconds: Math.max(run.options.warmupSeconds, manyKeysWarmupSeconds(spreadKeys)),
    };
    const report = await runBenchmark(options, run.hooks);
    return { report, summary: summarizeManyKeys(report, { storeKeys, spreadKeys, seedSeconds }) };
  } finally {
    await stop(seeded.child);
  }
}
