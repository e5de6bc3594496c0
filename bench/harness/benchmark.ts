// One benchmark run, programmatically: prepare each endpoint's workload, optionally warm up, then measure in
// rounds (alternating endpoints when comparing), sampling the servers' CPU around each measured segment.
// The CLI (cli.ts) and the side-by-side procedure (bench/run-targets.ts) both call runBenchmark.
import { KmsClient } from './kms-client.js';
import type { KeySelection } from './keys.js';
import type { BenchOptions } from './options.js';
import { runLoadOnWorkers } from './parallel.js';
import type { LoadProgress } from './load.js';
import { mergeSequential, type LoadResult } from './recorder.js';
import { compareTargets, summarizeTarget, type BenchReport } from './report.js';
import { prepareWorkload, type Workload } from './scenarios.js';
import { cpuSecondsBetween, isLoopbackEndpoint, sampleCpu } from './server-cpu.js';
import type { SigningTarget } from './signer.js';

export interface BenchHooks {
  /** Cumulative progress of the segment being measured (or warmed up). */
  progress?: (endpoint: string, phase: 'warmup' | 'measure', progress: LoadProgress) => void;
  /** One line of information for stderr (setup steps, warnings). */
  note?: (line: string) => void;
  /**
   * Aborted (Ctrl-C): the segment in flight ends at once, no further one starts, and the report covers what was
   * measured, marked interrupted. Aborted before anything was measured, the run fails.
   */
  stop?: AbortSignal;
}

interface TargetRun {
  endpoint: string;
  serverPids: number[];
  target: SigningTarget;
  workload: Workload;
  segments: LoadResult[];
  serverCpuSeconds: number;
  clientCpuSeconds: number;
}

export async function runBenchmark(options: BenchOptions, hooks: BenchHooks = {}): Promise<BenchReport> {
  const note = hooks.note ?? (() => {});
  const ownKeys: KeySelection = { keyId: options.keyId, keyIds: options.keyIds, keyCount: options.keyCount };
  const endpoints = [{ endpoint: options.endpoint, serverPids: options.serverPids, keys: ownKeys }];
  if (options.compare) {
    endpoints.push({ endpoint: options.compare, serverPids: options.compareServerPids, keys: options.compareKeys ?? ownKeys });
  }

  const runs: TargetRun[] = [];
  for (const { endpoint, serverPids, keys } of endpoints) {
    if (serverPids.length > 0 && !isLoopbackEndpoint(endpoint)) {
      note(`--server-pid ignored for ${endpoint}: CPU is only measured for loopback endpoints`);
      serverPids.length = 0;
    }
    const target: SigningTarget = { endpoint, region: options.region, credentials: options.credentials };
    note(`preparing ${endpoint} (keys, ${options.poolSize} request bodies per scenario, at least one per key)`);
    const workload = await prepareWorkload(new KmsClient(target), { ...options, keyId: undefined, keyIds: undefined,
      keyCount: undefined, ...keys });
    runs.push({ endpoint, serverPids, target, workload, segments: [], serverCpuSeconds: 0, clientCpuSeconds: 0 });
  }

  const segment = (run: TargetRun, durationSeconds: number, phase: 'warmup' | 'measure'): Promise<LoadResult> =>
    runLoadOnWorkers({ target: run.target, workload: run.workload, connections: options.connections, rate: options.rate,
      arrivals: options.arrivals, durationSeconds, timeoutSeconds: options.timeoutSeconds }, options.workers,
    (progress) => hooks.progress?.(run.endpoint, phase, progress), hooks.stop);
  const interrupted = (): boolean => hooks.stop?.aborted === true;
  const nothingMeasured = (): Error => new Error('interrupted before anything was measured');

  if (options.warmupSeconds > 0) for (const run of runs) await segment(run, options.warmupSeconds, 'warmup');
  if (interrupted()) throw nothingMeasured();

  // Comparing: rounds alternate A B, B A, A B ... so slow drift of a shared, noisy machine (thermal, other
  // tenants) falls on both endpoints alike instead of on whichever always runs second.
  const rounds = runs.length > 1 ? options.rounds : 1;
  const segmentSeconds = options.durationSeconds / rounds;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? runs : [...runs].reverse();
    for (const run of order) {
      if (interrupted()) break;
      const cpuBefore = run.serverPids.length > 0 ? sampleCpu(run.serverPids) : undefined;
      const clientBefore = process.cpuUsage();
      run.segments.push(await segment(run, segmentSeconds, 'measure'));
      const client = process.cpuUsage(clientBefore);
      run.clientCpuSeconds += (client.user + client.system) / 1e6;
      if (cpuBefore) run.serverCpuSeconds += cpuSecondsBetween(cpuBefore, sampleCpu(run.serverPids));
    }
  }

  if (runs.every((run) => run.segments.length === 0)) throw nothingMeasured();
  const targets = runs.map((run) => summarizeTarget({
    endpoint: run.endpoint, workload: run.workload.label, keys: run.workload.keys as Record<string, string>,
    result: mergeSequential(run.segments), clientCpuSeconds: run.clientCpuSeconds,
    serverCpuSeconds: run.serverPids.length > 0 ? run.serverCpuSeconds : undefined,
  }));
  return {
    generatedAt: new Date().toISOString(),
    config: {
      workload: runs[0]!.workload.label, connections: options.connections, rate: options.rate,
      ...(options.rate ? { arrivals: options.arrivals } : {}),
      durationSeconds: options.durationSeconds, rounds, workers: options.workers, payloadBytes: options.payloadBytes,
      region: options.region, credentialSource: options.credentialSource,
    },
    targets,
    comparison: targets.length > 1 ? compareTargets(targets[0]!, targets[1]!) : undefined,
    ...(interrupted() ? { interrupted: true as const } : {}),
  };
}
