import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from '../../src/metrics/fast-histogram.js';

describe('FastHistogram', () => {
  it('renders cumulative buckets, +Inf, _sum and _count through the prom-client Registry', async () => {
    const registry = new Registry();
    const histogram = new FastHistogram('t_seconds', 'test', ['op'], [0.1, 0.01, 1], registry);
    const child = histogram.child('a"b');
    for (const v of [0.005, 0.01, 0.5, 7]) child.observe(v);
    const body = await registry.metrics();
    expect(body).toContain('# TYPE t_seconds histogram');
    expect(body).toContain('t_seconds_bucket{le="0.01",op="a\\"b"} 2');
    expect(body).toContain('t_seconds_bucket{le="0.1",op="a\\"b"} 2');
    expect(body).toContain('t_seconds_bucket{le="1",op="a\\"b"} 3');
    expect(body).toContain('t_seconds_bucket{le="+Inf",op="a\\"b"} 4');
    expect(body).toContain('t_seconds_sum{op="a\\"b"} 7.515');
    expect(body).toContain('t_seconds_count{op="a\\"b"} 4');
  });

  it('resetMetrics zeroes the series but keeps the children callers hold', async () => {
    const registry = new Registry();
    const child = new FastHistogram('r_seconds', 'test', ['op'], [1], registry).child('x');
    child.observe(0.5);
    registry.resetMetrics();
    child.observe(2);
    const body = await registry.metrics();
    expect(body).toContain('r_seconds_bucket{le="1",op="x"} 0');
    expect(body).toContain('r_seconds_count{op="x"} 1');
  });
});
