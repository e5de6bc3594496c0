import { describe, expect, it } from 'vitest';
import { logNormalParameters, parseLatency } from '../../src/realism/latency.js';
import { quantile, seededRandom } from '../support/seeded-random.js';

const draws = (n: number, draw: () => number): number[] => Array.from({ length: n }, draw);

describe('parseLatency', () => {
  it('adds nothing when empty or when no rule covers the operation', () => {
    expect(parseLatency('').delayMs('Encrypt')).toBe(0);
    expect(parseLatency(' ; ').delayMs('Encrypt')).toBe(0);
    expect(parseLatency('Sign=fixed:5ms').delayMs('Encrypt')).toBe(0);
    expect(parseLatency('Sign=fixed:5ms').delayMs('NotAnOperation')).toBe(0);
  });

  it('reads fixed delays in us, ms and s', () => {
    const plan = parseLatency('Sign=fixed:5ms; Verify=fixed:250us;CreateKey=fixed:1.5s');
    expect(plan.delayMs('Sign')).toBe(5);
    expect(plan.delayMs('Verify')).toBeCloseTo(0.25);
    expect(plan.delayMs('CreateKey')).toBe(1500);
  });

  it('draws uniform delays inside the bounds with the expected mean', () => {
    const plan = parseLatency('management=uniform:20ms..80ms', seededRandom(1));
    const sample = draws(20_000, () => plan.delayMs('CreateKey'));
    expect(Math.min(...sample)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...sample)).toBeLessThanOrEqual(80);
    expect(sample.reduce((a, b) => a + b, 0) / sample.length).toBeGreaterThan(49);
    expect(sample.reduce((a, b) => a + b, 0) / sample.length).toBeLessThan(51);
  });

  it('derives the log-normal from p50 and p99 and its draws land near them', () => {
    const { mu, sigma } = logNormalParameters(8, 40);
    expect(Math.exp(mu)).toBeCloseTo(8);
    expect(Math.exp(mu + 2.3263478740408408 * sigma)).toBeCloseTo(40);

    const plan = parseLatency('crypto=lognormal:p50=8ms,p99=40ms', seededRandom(7));
    const sample = draws(50_000, () => plan.delayMs('Encrypt'));
    expect(quantile(sample, 0.5)).toBeGreaterThan(7.6);
    expect(quantile(sample, 0.5)).toBeLessThan(8.4);
    expect(quantile(sample, 0.99)).toBeGreaterThan(36);
    expect(quantile(sample, 0.99)).toBeLessThan(44);
    expect(Math.min(...sample)).toBeGreaterThan(0);
  });

  it('caps a log-normal tail at 60 s', () => {
    const plan = parseLatency('Sign=lognormal:p50=1s,p99=59s', () => 0.999_999_999);
    expect(plan.delayMs('Sign')).toBeLessThanOrEqual(60_000);
  });

  it('applies an operation rule over its class and a class rule over *, whatever the order', () => {
    for (const value of [
      '*=fixed:1ms;crypto=fixed:10ms;Sign=fixed:5ms',
      'Sign=fixed:5ms;crypto=fixed:10ms;*=fixed:1ms',
    ]) {
      const plan = parseLatency(value);
      expect(plan.delayMs('Sign')).toBe(5);
      expect(plan.delayMs('Encrypt')).toBe(10);
      expect(plan.delayMs('GenerateRandom')).toBe(10);
      expect(plan.delayMs('CreateKey')).toBe(1);
      expect(plan.delayMs('GetPublicKey')).toBe(1);
    }
    expect(parseLatency('Sign=fixed:5ms;Sign=fixed:7ms').delayMs('Sign')).toBe(7);
    expect(parseLatency('crypto=fixed:10ms;Decrypt=off').delayMs('Decrypt')).toBe(0);
  });

  it('rejects bad input with a message naming KMS_LATENCY', () => {
    for (const [value, pattern] of [
      ['Sign', /not TARGET=DISTRIBUTION/],
      ['Encrpyt=fixed:5ms', /"Encrpyt" is neither/],
      ['Sign=fixed:5', /not a duration/],
      ['Sign=fixed:-5ms', /not a duration/],
      ['Sign=fixed:61s', /60 s limit/],
      ['Sign=uniform:80ms..20ms', /below its minimum/],
      ['Sign=uniform:20ms', /MIN\.\.MAX/],
      ['Sign=lognormal:p50=40ms,p99=8ms', /0 < p50 <= p99/],
      ['Sign=lognormal:p50=8ms', /p50=D,p99=D/],
      ['Sign=normal:5ms', /unknown distribution "normal"/],
      ['Sign=off:5ms', /no arguments/],
    ] as const) {
      expect(() => parseLatency(value), value).toThrow(new RegExp(`^KMS_LATENCY: .*${pattern.source}`));
    }
  });
});
