// run-targets measures the engine with quota enforcement on (issue 6: "SigV4 verification, authorization, quotas,
// metrics and audit, all on"): the engine it starts charges every crypto request to a bucket whose limit the
// load can never reach, and --frontends reaches the engine as KMS_FRONTENDS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childPids } from '../../bench/harness/server-cpu.js';
import { benchCredentials, describeEngineSettings, startEngine, stop, type Started } from '../../bench/targets/servers.js';

const started: Started[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const engine of started) await stop(engine.child);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function engineWith(settings: Record<string, string> = {}): Promise<{ engine: Started; metrics: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kms-engine-settings-'));
  dirs.push(dir);
  const engine = await startEngine(dir, benchCredentials(), settings);
  started.push(engine);
  return { engine, metrics: await (await fetch(`${engine.url}/metrics`)).text() };
}

const limitOf = (metrics: string, quotaClass: string): number | undefined => {
  const line = metrics.split('\n').find((l) => l.startsWith(`kms_quota_limit_requests_per_second{quota_class="${quotaClass}"}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

describe('the engines run-targets measures', () => {
  it('enforce a quota on every crypto class, at ten million requests per second', { timeout: 60_000 }, async () => {
    const { engine, metrics } = await engineWith();
    expect(childPids(engine.pid)).toEqual([]); // one process, as by default
    for (const quotaClass of ['symmetric', 'rsa', 'ecc']) expect(limitOf(metrics, quotaClass)).toBe(10_000_000);
    expect(describeEngineSettings()).toBe('KMS_QUOTAS=symmetric=10000000,rsa=10000000,ecc=10000000');
  });

  it('take --frontends as KMS_FRONTENDS, quotas still on (the buckets then live in the primary)', { timeout: 60_000 }, async () => {
    const { engine, metrics } = await engineWith({ KMS_FRONTENDS: '2' });
    expect(childPids(engine.pid)).toHaveLength(2);
    expect(limitOf(metrics, 'ecc')).toBe(10_000_000);
    expect(describeEngineSettings({ KMS_FRONTENDS: '2' })).toContain('KMS_FRONTENDS=2');
  });
});
