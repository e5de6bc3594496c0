import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, METRIC_NAMES } from '../../src/metrics/registry.js';
import { parseQuotas, QuotaLimiter } from '../../src/quota/index.js';
import { ensurePrometheusInstalled } from '../support/prometheus.js';

/** The value of one sample line of the exposition, or undefined when absent. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const PROM_CLIENT_DEFAULT_LINT = ['active_handles', 'active_requests', 'active_resources']
  .map((name) => `nodejs_${name}_total non-counter metrics should not have "_total" suffix`);

describe('createMetrics', () => {
  // promtool ships in Debian's prometheus package.
  beforeAll(() => ensurePrometheusInstalled(), 600_000);

  it('counts requests per operation, key spec and outcome in the duration histogram', async () => {
    const metrics = createMetrics();
    metrics.observeRequest('Encrypt', 'SYMMETRIC_DEFAULT', 'ok', 0.0003);
    metrics.observeRequest('Encrypt', 'SYMMETRIC_DEFAULT', 'ok', 0.002);
    metrics.observeRequest('Sign', 'ECC_NIST_P256', 'KMSInvalidStateException', 0.01);
    metrics.observeRequest('ListKeys', '', 'ok', 0.00004);
    const { contentType, body } = await metrics.render();
    expect(contentType).toMatch(/^text\/plain/);
    expect(sample(body, 'kms_request_duration_seconds_count{operation="Encrypt",key_spec="SYMMETRIC_DEFAULT",outcome="ok"}')).toBe(2);
    expect(sample(body, 'kms_request_duration_seconds_bucket{le="0.0005",operation="Encrypt",key_spec="SYMMETRIC_DEFAULT",outcome="ok"}')).toBe(1);
    expect(sample(body, 'kms_request_duration_seconds_bucket{le="0.0025",operation="Encrypt",key_spec="SYMMETRIC_DEFAULT",outcome="ok"}')).toBe(2);
    expect(sample(body, 'kms_request_duration_seconds_sum{operation="Encrypt",key_spec="SYMMETRIC_DEFAULT",outcome="ok"}')).toBeCloseTo(0.0023, 9);
    expect(sample(body, 'kms_request_duration_seconds_count{operation="Sign",key_spec="ECC_NIST_P256",outcome="KMSInvalidStateException"}')).toBe(1);
    expect(sample(body, 'kms_request_duration_seconds_bucket{le="0.00005",operation="ListKeys",key_spec="",outcome="ok"}')).toBe(1);
    expect(body).toContain('kms_request_duration_seconds_bucket{le="5",');
  });

  it('folds label values a client could invent into one series each', async () => {
    const metrics = createMetrics();
    for (let i = 0; i < 50; i++) metrics.observeRequest(`Bogus${i}`, `SPEC${i}`, `Weird${i}`, 0.001);
    const { body } = await metrics.render();
    expect(sample(body, 'kms_request_duration_seconds_count{operation="unknown",key_spec="unknown",outcome="other"}')).toBe(50);
    expect(body).not.toContain('Bogus');
  });

  it('counts throttles per quota class, starting every limited class at zero', async () => {
    const limiter = new QuotaLimiter(parseQuotas('ecc=2,CreateKey=5', 'us-east-1'), () => 0);
    const metrics = createMetrics({ quotaSnapshot: () => limiter.snapshot() });
    limiter.take('a', 'ecc');
    metrics.throttled('ecc');
    metrics.throttled('ecc');
    const { body } = await metrics.render();
    expect(sample(body, 'kms_throttled_requests_total{quota_class="ecc"}')).toBe(2);
    expect(sample(body, 'kms_throttled_requests_total{quota_class="CreateKey"}')).toBe(0);
    expect(sample(body, 'kms_quota_limit_requests_per_second{quota_class="ecc"}')).toBe(2);
    expect(sample(body, 'kms_quota_limit_requests_per_second{quota_class="CreateKey"}')).toBe(5);
    expect(sample(body, 'kms_quota_utilization_ratio{quota_class="ecc"}')).toBe(0.5);
    expect(sample(body, 'kms_quota_utilization_ratio{quota_class="CreateKey"}')).toBe(0);
  });

  it('reads pool, key-state and audit gauges from their sources at scrape time', async () => {
    let queueDepth = 3;
    let states: Record<string, number> = { Enabled: 7, PendingDeletion: 1 };
    const metrics = createMetrics({
      poolStats: () => ({ queueDepth, inFlight: 4, workers: 2, utilization: 0.75 }),
      keysByState: () => states,
      auditLagSeconds: () => 0.125,
    });
    let { body } = await metrics.render();
    expect(sample(body, 'kms_pool_queue_depth')).toBe(3);
    expect(sample(body, 'kms_pool_in_flight_tasks')).toBe(4);
    expect(sample(body, 'kms_pool_workers')).toBe(2);
    expect(sample(body, 'kms_pool_utilization_ratio')).toBe(0.75);
    expect(sample(body, 'kms_keys{key_state="Enabled"}')).toBe(7);
    expect(sample(body, 'kms_keys{key_state="PendingDeletion"}')).toBe(1);
    expect(sample(body, 'kms_audit_lag_seconds')).toBe(0.125);
    queueDepth = 0;
    states = { Enabled: 8 };
    ({ body } = await metrics.render());
    expect(sample(body, 'kms_pool_queue_depth')).toBe(0);
    expect(sample(body, 'kms_keys{key_state="Enabled"}')).toBe(8);
    // The last pending deletion done: the state reads 0 rather than vanishing with its last count.
    expect(sample(body, 'kms_keys{key_state="PendingDeletion"}')).toBe(0);
    expect(sample(body, 'kms_keys{key_state="PendingImport"}')).toBe(0);
  });

  it('records pool job wait and run time per operation, and aggregates key-cache counts', async () => {
    const metrics = createMetrics();
    metrics.observePoolJob(0.0001, 0.002, 'Sign');
    metrics.observePoolJob(0.0002, 0.003, 'Sign');
    metrics.keyCache(10, 2, 1);
    metrics.keyCache(5, 0, 0);
    const { body } = await metrics.render();
    expect(sample(body, 'kms_pool_job_wait_seconds_count{operation="Sign"}')).toBe(2);
    expect(sample(body, 'kms_pool_job_run_seconds_sum{operation="Sign"}')).toBeCloseTo(0.005, 9);
    expect(sample(body, 'kms_key_cache_hits_total')).toBe(15);
    expect(sample(body, 'kms_key_cache_misses_total')).toBe(2);
    expect(sample(body, 'kms_key_cache_evictions_total')).toBe(1);
  });

  it('defines every name in METRIC_NAMES, plus process metrics, with HELP and TYPE lines', async () => {
    const { body } = await createMetrics().render();
    for (const name of Object.values(METRIC_NAMES)) {
      expect(body).toContain(`# HELP ${name} `);
      expect(body).toMatch(new RegExp(`# TYPE ${name} (counter|gauge|histogram)`));
    }
    expect(body).toContain('process_cpu_seconds_total');
    expect(body).toContain('nodejs_eventloop_lag_seconds');
  });

  it('passes promtool check metrics', async () => {
    const metrics = createMetrics({
      poolStats: () => ({ queueDepth: 1, inFlight: 2, workers: 2, utilization: 0.5 }),
      keysByState: () => ({ Enabled: 1 }),
      auditLagSeconds: () => 0,
      quotaSnapshot: () => [{ quotaClass: 'symmetric', limit: 100, usedThisSecond: 5 }],
    });
    metrics.observeRequest('Encrypt', 'SYMMETRIC_DEFAULT', 'ok', 0.001);
    metrics.observePoolJob(0.001, 0.001, 'Encrypt');
    metrics.throttled('symmetric');
    metrics.keyCache(1, 1, 1);
    const { body } = await metrics.render();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    const complaints = `${check.stdout}${check.stderr}`.trim().split('\n').filter(Boolean);
    // prom-client's own default metrics name three gauges *_total; promtool's linter flags those. Pinned here so
    // that any other complaint, and any about our kms_* metrics, fails the test.
    expect(complaints).toEqual(PROM_CLIENT_DEFAULT_LINT);
  });
});
