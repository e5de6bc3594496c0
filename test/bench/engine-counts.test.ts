// `kms-engine bench` against a real engine whose quota is low and which injects faults (KMS_QUOTAS, KMS_FAULTS):
// the setup (the Encrypts that make the decrypt scenario's ciphertexts) gets through the throttling and faults as
// an SDK would, and the report's counts, by error code, are the ones the engine's own metrics show.
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

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kms-bench-counts-'));
  engine = await startEngine(dataDir, credentials, {
    KMS_QUOTAS: 'symmetric=20',
    KMS_FAULTS: 'KMSInternalException=0.1@Encrypt,Decrypt',
  });
}, 60_000);

afterAll(async () => {
  if (engine) await stop(engine.child);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** kms_request_duration_seconds_count of one operation, by outcome (summed over key specs). */
async function requestCounts(operation: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${engine.url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^kms_request_duration_seconds_count\{(.*)\} (\d+)$/.exec(line);
    if (!match || !match[1]!.includes(`operation="${operation}"`)) continue;
    const outcome = /outcome="([^"]*)"/.exec(match[1]!)![1]!;
    counts[outcome] = (counts[outcome] ?? 0) + Number(match[2]);
  }
  return counts;
}

const delta = (after: Record<string, number>, before: Record<string, number>, outcome: string): number =>
  (after[outcome] ?? 0) - (before[outcome] ?? 0);

describe('kms-engine bench against an engine that throttles and fails', () => {
  it('gets through a throttled setup and reports what the engine counted, by error code', { timeout: 60_000 }, async () => {
    const connections = 2;
    const before = await requestCounts('Decrypt');
    const run = await runHarness(['--endpoint', engine.url, '--access-key-id', credentials.accessKeyId,
      '--secret-access-key', credentials.secretAccessKey, '--scenario', 'decrypt', '--pool-size', '64',
      '--rate', '40', '--duration', '2', '--connections', String(connections), '--quiet', '--json'], 50_000);
    expect(run.code, run.stderr).toBe(0);
    const after = await requestCounts('Decrypt');
    const target = (JSON.parse(run.stdout) as BenchReport).targets[0]!;

    // The paced loop sends exactly rate x duration requests, plus one uncounted lead-in per connection.
    expect(target.requests).toMatchObject({ total: 80, transportErrors: 0 });
    const engineTotal = Object.keys(after).reduce((sum, outcome) => sum + delta(after, before, outcome), 0);
    expect(engineTotal).toBe(target.requests.total + connections);
    expect(Object.keys(target.errorsByCode).sort()).toEqual(
      Object.keys(after).filter((o) => o !== 'ok' && delta(after, before, o) > 0).sort());
    expect(target.errorsByCode.ThrottlingException).toBeGreaterThan(0);
    expect(target.throttles).toBe(target.errorsByCode.ThrottlingException);
    // Every outcome matches, but for what the lead-ins drew.
    for (const outcome of Object.keys(after)) {
      const reported = outcome === 'ok' ? target.requests.ok : target.errorsByCode[outcome] ?? 0;
      expect(delta(after, before, outcome) - reported).toBeGreaterThanOrEqual(0);
      expect(delta(after, before, outcome) - reported).toBeLessThanOrEqual(connections);
    }
  });
});
