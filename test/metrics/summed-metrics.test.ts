// /metrics' sum over KMS_FRONTENDS front ends (src/cluster/summed-metrics.ts), with each front end's real
// registry (createMetrics): counters and histograms never go back when a front end answers a collection late
// or exits, while gauges come only from the front ends that answered. frontends.test.ts kills a real front end.
import { describe, expect, it } from 'vitest';
import { SummedMetrics, type Collected } from '../../src/cluster/summed-metrics.js';
import { createMetrics, type Metrics } from '../../src/metrics/registry.js';

const frontEnd = (workers: number): Metrics => createMetrics({
  poolStats: () => ({ queueDepth: 0, inFlight: 0, workers, utilization: 0 }),
});
const collect = async (metrics: Metrics): Promise<Collected> => await metrics.registry.getMetricsAsJSON() as Collected;

/** One sample of the exposition by its series text (name and labels as written), or undefined. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
const ENCRYPTS = 'kms_request_duration_seconds_count{operation="Encrypt",key_spec="SYMMETRIC_DEFAULT",outcome="ok"}';
const ENCRYPTS_UNDER_1MS = 'kms_request_duration_seconds_bucket{le="0.001",operation="Encrypt",key_spec="SYMMETRIC_DEFAULT",outcome="ok"}';

describe('SummedMetrics', () => {
  const one = frontEnd(1);
  const two = frontEnd(2);
  for (let i = 0; i < 3; i++) one.observeRequest('Encrypt', 'SYMMETRIC_DEFAULT', 'ok', 0.0004);
  for (let i = 0; i < 5; i++) two.observeRequest('Encrypt', 'SYMMETRIC_DEFAULT', 'ok', 0.0004);
  one.throttled('ecc');
  const summed = new SummedMetrics<string>();

  it('sums the front ends that answered: counters, histograms and gauges by their aggregator', async () => {
    summed.collected('1', await collect(one));
    summed.collected('2', await collect(two));
    const body = await summed.render(new Set(['1', '2']));
    expect(sample(body, ENCRYPTS)).toBe(8);
    expect(sample(body, ENCRYPTS_UNDER_1MS)).toBe(8);
    expect(sample(body, 'kms_throttled_requests_total{quota_class="ecc"}')).toBe(1);
    expect(sample(body, 'kms_pool_workers')).toBe(3);
  });

  it('keeps the counters and histograms of a front end that did not answer, and leaves out its gauges', async () => {
    one.observeRequest('Encrypt', 'SYMMETRIC_DEFAULT', 'ok', 0.0004);
    summed.collected('1', await collect(one));
    summed.collected('2', []); // a render that failed: no registry
    const body = await summed.render(new Set(['1']));
    expect(sample(body, ENCRYPTS)).toBe(9); // 4 from the one that answered, 5 as the other last said
    expect(sample(body, ENCRYPTS_UNDER_1MS)).toBe(9);
    expect(sample(body, 'kms_pool_workers')).toBe(1);
  });

  it('keeps what a front end that exited counted, under its replacement\'s counts', async () => {
    summed.exited('2');
    const replacement = frontEnd(2);
    replacement.observeRequest('Encrypt', 'SYMMETRIC_DEFAULT', 'ok', 0.0004);
    summed.collected('2b', await collect(replacement));
    summed.collected('1', await collect(one));
    const body = await summed.render(new Set(['1', '2b']));
    expect(sample(body, ENCRYPTS)).toBe(4 + 5 + 1);
    expect(sample(body, ENCRYPTS_UNDER_1MS)).toBe(10);
    expect(sample(body, 'kms_throttled_requests_total{quota_class="ecc"}')).toBe(1);
    expect(Number(/^process_cpu_seconds_total (\S+)$/m.exec(body)?.[1])).toBeGreaterThan(0);
    expect(sample(body, 'kms_pool_workers')).toBe(3); // the gone front end's gauges are gone with it
  });

  it('shows the event-loop lag of the worst front end, not the mean', async () => {
    const withLag = async (metrics: Metrics, p99: number): Promise<Collected> => (await collect(metrics)).map((family) =>
      family.name === 'nodejs_eventloop_lag_p99_seconds' ? { ...family, values: family.values.map((value) => ({ ...value, value: p99 })) } : family);
    const lags = new SummedMetrics<string>();
    lags.collected('stalled', await withLag(frontEnd(1), 0.5));
    lags.collected('idle', await withLag(frontEnd(1), 0.01));
    expect(sample(await lags.render(new Set(['stalled', 'idle'])), 'nodejs_eventloop_lag_p99_seconds')).toBe(0.5);
  });

  it('shows when the newest front end started, so a replaced one shows as a restart', async () => {
    const startedAt = async (metrics: Metrics, seconds: number): Promise<Collected> => (await collect(metrics)).map((family) =>
      family.name === 'process_start_time_seconds' ? { ...family, values: family.values.map((value) => ({ ...value, value: seconds })) } : family);
    const starts = new SummedMetrics<string>();
    starts.collected('first', await startedAt(frontEnd(1), 1_700_000_000));
    starts.collected('replacement', await startedAt(frontEnd(1), 1_700_000_600));
    expect(sample(await starts.render(new Set(['first', 'replacement'])), 'process_start_time_seconds')).toBe(1_700_000_600);
  });

  it('ignores an answer that arrives after its front end exited (its counts are in the sums already)', async () => {
    summed.collected('2', await collect(two));
    const body = await summed.render(new Set(['1', '2b']));
    expect(sample(body, ENCRYPTS)).toBe(10);
    expect(sample(body, 'kms_pool_workers')).toBe(3);
  });
});
