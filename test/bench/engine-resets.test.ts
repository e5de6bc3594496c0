// `kms-engine bench` against a real engine that resets connections and adds latency (KMS_FAULTS=reset,
// KMS_LATENCY): both loaders count each reset as an ECONNRESET transport error of the operation it carried, so the
// per-operation counts add up to the requests sent and the resets match the engine's own count of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchCredentials, startEngine, stop, type Started } from '../../bench/targets/servers.js';
import type { BenchReport } from '../../bench/harness/report.js';
import { runHarness } from './run-harness.js';

let engine: Started;
let dataDir: string;
const credentials = benchCredentials();
const CONNECTIONS = 2;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kms-bench-resets-'));
  engine = await startEngine(dataDir, credentials, {
    KMS_FAULTS: 'reset=0.2@Encrypt',
    // Keeps the closed loop to a few hundred requests a second, and shows up in every percentile.
    KMS_LATENCY: 'Encrypt=fixed:10ms',
  });
}, 60_000);

afterAll(async () => {
  if (engine) await stop(engine.child);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The engine's count of reset Encrypt requests (kms_request_duration_seconds_count, outcome="reset"). */
async function engineResets(): Promise<number> {
  const text = await (await fetch(`${engine.url}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith('kms_request_duration_seconds_count{')
    && line.includes('operation="Encrypt"') && line.includes('outcome="reset"'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describe('kms-engine bench against an engine that resets connections', () => {
  for (const [loop, load] of [['paced (--rate)', ['--rate', '50', '--duration', '2']],
    ['closed loop', ['--duration', '1']],
    ['autocannon arrivals', ['--rate', '50', '--arrivals', 'autocannon', '--duration', '2']]] as const) {
    it(`${loop}: counts each reset as an ECONNRESET transport error of its operation`, { timeout: 60_000 },
      async () => {
      const before = await engineResets();
      const run = await runHarness(['--endpoint', engine.url, '--access-key-id', credentials.accessKeyId,
        '--secret-access-key', credentials.secretAccessKey, '--scenario', 'encrypt', '--pool-size', '16',
        '--connections', String(CONNECTIONS), ...load, '--quiet', '--json'], 50_000);
      expect(run.code, run.stderr).toBe(0);
      const resets = (await engineResets()) - before;
      const target = (JSON.parse(run.stdout) as BenchReport).targets[0]!;

      expect(target.requests.transportErrors).toBeGreaterThan(0);
      expect(target.transportErrorsByCause).toEqual({ ECONNRESET: target.requests.transportErrors });
      // The paced loader's lead-ins, or the closed loop's requests in flight at the end, may add a few on the engine.
      expect(resets - target.requests.transportErrors).toBeGreaterThanOrEqual(0);
      expect(resets - target.requests.transportErrors).toBeLessThanOrEqual(CONNECTIONS);
      expect(target.operations).toEqual({
        Encrypt: { ok: target.requests.ok, errors: target.requests.non2xx + target.requests.transportErrors },
      });
      expect(target.latencyMs.p50).toBeGreaterThanOrEqual(10);
    });
  }
});
