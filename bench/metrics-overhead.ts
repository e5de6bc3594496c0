// What metrics cost the engine (issue 5): the per-request observe work on the hot path, the cost of one
// scrape, and Encrypt 1 KiB throughput of a real server scraped every second vs not scraped at all, side by
// side in alternating rounds of one run. The engine has no switch that turns observing off (and needs none:
// see the share computed below), so the observe cost is measured directly and set against the server's own
// CPU per request, measured from /proc while it serves.
//
//   npm run build && node dist/bench/metrics-overhead.js [--seconds 5] [--rounds 3] [--connections 32] [--workers 1]

import { parseArgs } from 'node:util';
import { createMetrics } from '../src/metrics/registry.js';
import { parseQuotas, QuotaLimiter } from '../src/quota/index.js';
import { startServer } from '../test/support/server.js';
import { KmsClient } from './harness/kms-client.js';
import { runLoad } from './harness/load.js';
import { prepareWorkload } from './harness/scenarios.js';
import { cpuSecondsBetween, sampleCpu } from './harness/server-cpu.js';

/** Best of `rounds` timings of `run(n)`, in nanoseconds per iteration: the fastest round is the code's cost. */
function nanosPerCall(run: (n: number) => void, n: number, rounds = 5): number {
  run(n); // warm up: series resolved, code optimised
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    run(n);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / n);
  }
  return best;
}

/** The metrics work one Encrypt does in the engine: its request observation, and (worst case: a batch of one) its pool task report. */
function observeCost(): { requestNs: number; poolTaskNs: number } {
  const metrics = createMetrics();
  const requestNs = nanosPerCall((n) => {
    for (let i = 0; i < n; i++) metrics.observeRequest('Encrypt', 'SYMMETRIC_DEFAULT', 'ok', 0.0001 * (i & 15));
  }, 1_000_000);
  const poolTaskNs = nanosPerCall((n) => {
    for (let i = 0; i < n; i++) {
      metrics.observePoolJob(0.00002 * (i & 7), 0.00005, 'Encrypt');
      metrics.keyCache(1, 0, 0);
    }
  }, 1_000_000);
  return { requestNs, poolTaskNs };
}

/** Milliseconds to render a scrape of a registry as full as a busy server's (aws preset, many series). */
async function scrapeCostMs(): Promise<{ ms: number; bytes: number }> {
  const limiter = new QuotaLimiter(parseQuotas('aws', 'us-east-1'));
  const metrics = createMetrics({
    poolStats: () => ({ queueDepth: 3, inFlight: 4, workers: 2, utilization: 0.5 }),
    keysByState: () => ({ Enabled: 100, Disabled: 3, PendingDeletion: 2 }),
    auditLagSeconds: () => 0.001,
    quotaSnapshot: () => limiter.snapshot(),
  });
  for (const operation of ['Encrypt', 'Decrypt', 'GenerateDataKey', 'Sign', 'Verify', 'CreateKey', 'DescribeKey']) {
    for (const spec of ['SYMMETRIC_DEFAULT', 'ECC_NIST_P256', 'RSA_2048']) {
      for (const outcome of ['ok', 'ThrottlingException', 'AccessDeniedException']) metrics.observeRequest(operation, spec, outcome, 0.001);
    }
    metrics.observePoolJob(0.0001, 0.0002, operation);
  }
  let bytes = 0;
  for (let i = 0; i < 20; i++) bytes = (await metrics.render()).body.length; // warm up
  const rounds = 200;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) await metrics.render();
  return { ms: (performance.now() - started) / rounds, bytes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' }, workers: { type: 'string', default: '1' },
  } });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);

  const observe = observeCost();
  const scrape = await scrapeCostMs();

  const server = await startServer({ env: { KMS_WORKERS: values.workers } });
  try {
    const target = { endpoint: server.url, region: server.region, credentials: server.credentials };
    const workload = await prepareWorkload(new KmsClient(target), {
      mix: [{ scenario: 'encrypt', weight: 1 }], payloadBytes: 1024, poolSize: 256,
    });
    const pid = server.process.pid!;
    const results: Record<'unscraped' | 'scraped', Array<{ rps: number; cpuMicrosPerRequest: number }>> = { unscraped: [], scraped: [] };
    // A discarded warm-up round (JIT, key caches, connections), then modes in ABBA order so that a drift of
    // the machine's speed during the run falls on both alike.
    await runLoad({ target, workload, connections: Number(values.connections), durationSeconds: seconds, timeoutSeconds: 10 });
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['unscraped', 'scraped'] as const : ['scraped', 'unscraped'] as const;
      for (const mode of order) {
        const scraper = mode === 'scraped'
          ? setInterval(() => { void fetch(`${server.url}/metrics`).then((response) => response.text()); }, 1_000) : undefined;
        const before = sampleCpu([pid]);
        const load = await runLoad({ target, workload, connections: Number(values.connections), durationSeconds: seconds, timeoutSeconds: 10 });
        const cpu = cpuSecondsBetween(before, sampleCpu([pid]));
        clearInterval(scraper);
        results[mode].push({ rps: load.ok / (load.elapsedMs / 1000), cpuMicrosPerRequest: (cpu * 1e6) / Math.max(1, load.ok) });
      }
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const unscrapedRps = mean(results.unscraped.map((r) => r.rps));
    const scrapedRps = mean(results.scraped.map((r) => r.rps));
    const cpuMicros = mean([...results.unscraped, ...results.scraped].map((r) => r.cpuMicrosPerRequest));
    const observeMicros = (observe.requestNs + observe.poolTaskNs) / 1000;
    const lines = [
      `Metrics overhead, Encrypt 1 KiB, KMS_WORKERS=${values.workers}, ${values.connections} connections, ${rounds} x ${seconds} s rounds per mode`,
      '',
      '| measure | value |',
      '|---|---|',
      `| observeRequest (hot path, per request) | ${observe.requestNs.toFixed(0)} ns |`,
      `| observePoolJob + keyCache (per pool task; one per request at worst) | ${observe.poolTaskNs.toFixed(0)} ns |`,
      `| one scrape (render, aws preset, ${scrape.bytes} bytes) | ${scrape.ms.toFixed(2)} ms |`,
      `| server CPU per Encrypt (from /proc) | ${cpuMicros.toFixed(1)} us |`,
      `| observe share of server CPU per request | ${((100 * observeMicros) / cpuMicros).toFixed(2)} % |`,
      `| scrape share at 1 scrape/s | ${(scrape.ms / 10).toFixed(3)} % of one core |`,
      `| Encrypt/s, not scraped | ${results.unscraped.map((r) => r.rps.toFixed(0)).join(', ')} (mean ${unscrapedRps.toFixed(0)}) |`,
      `| Encrypt/s, scraped every 1 s | ${results.scraped.map((r) => r.rps.toFixed(0)).join(', ')} (mean ${scrapedRps.toFixed(0)}) |`,
      `| scraped / not scraped | ${(scrapedRps / unscrapedRps).toFixed(3)} |`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await server.remove();
  }
}

main().catch((error: Error) => {
  console.error(`metrics-overhead: ${error.message}`);
  process.exitCode = 1;
});
