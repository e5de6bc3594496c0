// GET /metrics on the real server after known traffic (issue 5): the request histogram per operation, key spec
// and outcome, throttles and utilisation per quota class, pool gauges and job histograms, key-cache counters,
// keys by state, audit lag and process metrics, with exactly the counts the traffic implies; and promtool's
// linter finds nothing but prom-client's own pinned complaints.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePrometheusInstalled } from '../support/prometheus.js';
import { startServer, type TestServer } from '../support/server.js';
import { countByCode, rawCaller, sample, scrape, type Answer, type Caller } from '../e2e-quotas/flood.js';

const ECC_RPS = 5;
const ENCRYPTS = 10;
const SIGNS = 12;
const BAD_DECRYPTS = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const keyIdOf = (answer: Answer): string => (answer.body.KeyMetadata as { KeyId: string }).KeyId;

/** Scrapes until `ready` holds (gauges refreshed on a timer), at most `timeoutMs`; returns the last scrape. */
async function scrapeUntil(server: TestServer, ready: (exposition: string) => boolean, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exposition = await scrape(server);
    if (ready(exposition) || Date.now() > deadline) return exposition;
    await sleep(250);
  }
}

describe('GET /metrics after known traffic', () => {
  let server: TestServer;
  let call: Caller;
  let signAnswers: Answer[];
  let exposition: string;

  beforeAll(async () => {
    ensurePrometheusInstalled(); // promtool
    // One ListAliases held past 5 s: its latency must land in a bucket of its own, not only in +Inf.
    server = await startServer({ env: { KMS_WORKERS: '1', KMS_QUOTAS: `ecc=${ECC_RPS}`, KMS_LATENCY: 'ListAliases=fixed:6s' } });
    call = rawCaller(server);
    const symmetric = keyIdOf(await call('CreateKey', {}));
    const ecc = keyIdOf(await call('CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    const toDisable = keyIdOf(await call('CreateKey', {}));
    const toDelete = keyIdOf(await call('CreateKey', {}));

    for (let i = 0; i < ENCRYPTS; i++) {
      expect((await call('Encrypt', { KeyId: symmetric, Plaintext: Buffer.from(`secret ${i}`).toString('base64') })).code).toBe('ok');
    }
    for (let i = 0; i < BAD_DECRYPTS; i++) {
      const answer = await call('Decrypt', { CiphertextBlob: Buffer.alloc(80, i).toString('base64') });
      expect(answer.code).toBe('InvalidCiphertextException');
    }
    // One burst over the ecc quota of 5/s: the bucket's 5 tokens (or 6, if one refills mid-burst) are admitted.
    signAnswers = await Promise.all(Array.from({ length: SIGNS }, (_, i) => call('Sign', {
      KeyId: ecc, SigningAlgorithm: 'ECDSA_SHA_256', Message: Buffer.from(`message ${i}`).toString('base64'),
    })));
    expect((await call('DisableKey', { KeyId: toDisable })).code).toBe('ok');
    expect((await call('Encrypt', { KeyId: toDisable, Plaintext: 'AA==' })).code).toBe('DisabledException');
    expect((await call('ScheduleKeyDeletion', { KeyId: toDelete, PendingWindowInDays: 7 })).code).toBe('ok');
    expect((await call('NoSuchOperation', {})).code).toBe('UnknownOperationException');
    expect((await call('ListAliases', {})).code).toBe('ok');
    // Keys by state is refreshed every 5 s: wait for it to catch up with the traffic.
    exposition = await scrapeUntil(server, (body) => sample(body, 'kms_keys', { key_state: 'PendingDeletion' }) === 1, 12_000);
  }, 60_000);

  afterAll(async () => {
    await server?.remove();
  });

  const requests = (operation: string, keySpec: string, outcome: string) =>
    sample(exposition, 'kms_request_duration_seconds_count', { operation, key_spec: keySpec, outcome });

  it('counts every request by operation, key spec and outcome', () => {
    const signs = countByCode(signAnswers);
    expect(signs.ok! + signs.ThrottlingException!).toBe(SIGNS);
    expect(requests('CreateKey', 'SYMMETRIC_DEFAULT', 'ok')).toBe(3);
    expect(requests('CreateKey', 'ECC_NIST_P256', 'ok')).toBe(1);
    expect(requests('Encrypt', 'SYMMETRIC_DEFAULT', 'ok')).toBe(ENCRYPTS);
    expect(requests('Encrypt', 'SYMMETRIC_DEFAULT', 'DisabledException')).toBe(1);
    expect(requests('Decrypt', '', 'InvalidCiphertextException')).toBe(BAD_DECRYPTS); // no key was ever resolved
    expect(requests('Sign', 'ECC_NIST_P256', 'ok')).toBe(signs.ok);
    expect(requests('Sign', 'ECC_NIST_P256', 'ThrottlingException')).toBe(signs.ThrottlingException);
    expect(requests('DisableKey', 'SYMMETRIC_DEFAULT', 'ok')).toBe(1);
    expect(requests('ScheduleKeyDeletion', 'SYMMETRIC_DEFAULT', 'ok')).toBe(1);
    // A client's invented operation name folds into one series rather than minting its own.
    expect(requests('unknown', '', 'UnknownOperationException')).toBe(1);
    expect(exposition).not.toContain('NoSuchOperation');
  });

  it('keeps each histogram consistent: cumulative buckets ending in +Inf = count, and a positive sum', () => {
    const labels = { operation: 'Encrypt', key_spec: 'SYMMETRIC_DEFAULT', outcome: 'ok' };
    const buckets = [...exposition.matchAll(/^kms_request_duration_seconds_bucket\{le="([^"]+)",operation="Encrypt",key_spec="SYMMETRIC_DEFAULT",outcome="ok"\} (\S+)$/gm)]
      .map((match) => Number(match[2]));
    expect(buckets.length).toBe(19); // 18 bounds, 50 us .. 30 s, and +Inf
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets.at(-1)).toBe(ENCRYPTS);
    expect(sample(exposition, 'kms_request_duration_seconds_sum', labels)).toBeGreaterThan(0);
  });

  it('gives a request of 6 s a bucket below +Inf, so histogram_quantile() can tell it from 5 s', () => {
    const bucket = (le: string) => sample(exposition, 'kms_request_duration_seconds_bucket', { le, operation: 'ListAliases', key_spec: '', outcome: 'ok' });
    expect(bucket('5')).toBe(0);
    expect(bucket('10')).toBe(1);
    expect(sample(exposition, 'kms_request_duration_seconds_sum', { operation: 'ListAliases', key_spec: '', outcome: 'ok' })).toBeGreaterThanOrEqual(5.9);
  });

  it('counts throttles and shows the limit and utilisation of the quota class', () => {
    const signs = countByCode(signAnswers);
    expect(sample(exposition, 'kms_throttled_requests_total', { quota_class: 'ecc' })).toBe(signs.ThrottlingException);
    expect(sample(exposition, 'kms_quota_limit_requests_per_second', { quota_class: 'ecc' })).toBe(ECC_RPS);
    // Only limited classes appear (KMS_QUOTAS names just ecc); utilisation is a ratio of the limit.
    expect(sample(exposition, 'kms_quota_limit_requests_per_second', { quota_class: 'symmetric' })).toBeUndefined();
    const utilization = sample(exposition, 'kms_quota_utilization_ratio', { quota_class: 'ecc' });
    expect(utilization).toBeGreaterThanOrEqual(0);
    expect(utilization).toBeLessThanOrEqual(1.2);
  });

  it('shows the pool: workers, idle queue, utilisation, and wait/run histograms per operation', () => {
    const signs = countByCode(signAnswers);
    expect(sample(exposition, 'kms_pool_workers')).toBe(1);
    expect(sample(exposition, 'kms_pool_queue_depth')).toBe(0);
    expect(sample(exposition, 'kms_pool_in_flight_tasks')).toBe(0);
    const utilization = sample(exposition, 'kms_pool_utilization_ratio')!;
    expect(utilization).toBeGreaterThanOrEqual(0);
    expect(utilization).toBeLessThanOrEqual(1);
    // One job per request that reached the crypto: refused and failed requests never did.
    for (const [operation, jobs] of [['Encrypt', ENCRYPTS], ['Sign', signs.ok!], ['CreateKey', 4]] as const) {
      expect(sample(exposition, 'kms_pool_job_wait_seconds_count', { operation }), operation).toBe(jobs);
      expect(sample(exposition, 'kms_pool_job_run_seconds_count', { operation }), operation).toBe(jobs);
    }
    expect(sample(exposition, 'kms_pool_job_run_seconds_sum', { operation: 'Sign' })).toBeGreaterThan(0);
    expect(sample(exposition, 'kms_pool_job_run_seconds_count', { operation: 'unknown' })).toBeUndefined();
  });

  it('counts key-cache lookups: one miss per key on the one worker, hits for the rest', () => {
    const signs = countByCode(signAnswers);
    // Encrypt x10 on one key and the admitted Signs on another: a miss each the first time, hits after.
    expect(sample(exposition, 'kms_key_cache_misses_total')).toBe(2);
    expect(sample(exposition, 'kms_key_cache_hits_total')).toBe(ENCRYPTS - 1 + signs.ok! - 1);
    // Evictions count size and age limits only (a disabled key's entry is deleted, not evicted): none here.
    expect(sample(exposition, 'kms_key_cache_evictions_total')).toBe(0);
  });

  it('shows keys by state, audit lag and process metrics', () => {
    expect(sample(exposition, 'kms_keys', { key_state: 'Enabled' })).toBe(2);
    expect(sample(exposition, 'kms_keys', { key_state: 'Disabled' })).toBe(1);
    expect(sample(exposition, 'kms_keys', { key_state: 'PendingDeletion' })).toBe(1);
    // A state no key is in reads 0, not "no data" (nor the count it last had).
    expect(sample(exposition, 'kms_keys', { key_state: 'PendingImport' })).toBe(0);
    expect(sample(exposition, 'kms_audit_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(exposition, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 2 ** 20);
    expect(sample(exposition, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(exposition, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(exposition, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('passes promtool check metrics apart from prom-client\'s pinned nodejs_* complaints', () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    const complaints = `${check.stdout}${check.stderr}`.trim().split('\n').filter(Boolean);
    // prom-client's default metrics name three gauges *_total; any other complaint fails.
    expect(complaints.filter((line) => !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(line)))
      .toEqual([]);
  });
});
