// The run-targets procedures' pure parts, in-process with fake reports: half of the peak and the p99 ratio and
// verdicts, the many-keys ratio, drawing the spread from the store, the RESULTS.md rows; and the harness's new
// options and per-key request bodies.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KmsClient } from '../../bench/harness/kms-client.js';
import { parseBenchOptions, USAGE, UsageError } from '../../bench/harness/options.js';
import { dueAtMs, dueBy } from '../../bench/harness/paced-load.js';
import type { BenchReport, TargetReport } from '../../bench/harness/report.js';
import { parseMix, prepareWorkload } from '../../bench/harness/scenarios.js';
import { halfPeakRate, summarizeHalfPeak } from '../../bench/targets/half-peak.js';
import { sampleKeys, seedDocument, summarizeManyKeys } from '../../bench/targets/many-keys.js';
import { renderResults } from '../../bench/targets/results.js';

function target(overrides: { successRps?: number; p99?: number; perCpu?: number; non2xx?: number; sendLagP99?: number;
  endpoint?: string } = {}): TargetReport {
  const latency = { p50: 1, p90: 2, p99: overrides.p99 ?? 3, p99_9: 4, max: 5, mean: 1.2 };
  return {
    endpoint: overrides.endpoint ?? 'http://127.0.0.1:1', workload: 'encrypt', keys: {}, measuredSeconds: 10,
    requests: { total: 1000, ok: 1000 - (overrides.non2xx ?? 0), non2xx: overrides.non2xx ?? 0, transportErrors: 0, timeouts: 0 },
    throughputRps: overrides.successRps ?? 1000, successRps: overrides.successRps ?? 1000, latencyMs: latency,
    statusCounts: {}, errorsByCode: overrides.non2xx ? { ThrottlingException: overrides.non2xx } : {}, throttles: 0,
    operations: {}, clientCpuSeconds: 1, signing: { signatures: 1, microsPerSignature: 30 }, series: [],
    ...(overrides.perCpu === undefined ? {} : { requestsPerServerCpuSecond: overrides.perCpu, serverCpuSeconds: 1 }),
    ...(overrides.sendLagP99 === undefined ? {} : { sendLagMs: { ...latency, p99: overrides.sendLagP99 } }),
  };
}

function report(targets: TargetReport[], rate?: number): BenchReport {
  return { generatedAt: '2026-01-01T00:00:00.000Z', config: { workload: 'encrypt', connections: 64, rate,
    durationSeconds: 10, rounds: 2, workers: 1, payloadBytes: 1024, region: 'us-east-1', credentialSource: 'test' }, targets };
}

describe('p99 at half the peak', () => {
  it('offers half the peak successful rate, rounded, never below 1', () => {
    expect(halfPeakRate(report([target({ successRps: 1427 })]))).toBe(714);
    expect(halfPeakRate(report([target({ successRps: 5291.3 })]))).toBe(2646);
    expect(halfPeakRate(report([target({ successRps: 0 })]))).toBe(1);
  });

  it('compares the p99s at that rate and judges both thresholds', () => {
    const peak = report([target({ successRps: 2000 })]);
    const met = summarizeHalfPeak(peak, report([target({ successRps: 999, p99: 4, sendLagP99: 0.8 }),
      target({ successRps: 1000, p99: 3, sendLagP99: 1.1 })], 1000));
    expect(met).toEqual({ peakRps: 2000, rate: 1000, engineP99Ms: 4, referenceP99Ms: 3, p99Ratio: 1.333,
      engineRps: 999, referenceRps: 1000, delivered: true, sendLagP99Ms: 1.1, meetsAbsolute: true, meetsRelative: true });

    const slow = summarizeHalfPeak(peak, report([target({ p99: 6 }), target({ p99: 3 })], 1000));
    expect(slow).toMatchObject({ p99Ratio: 2, meetsAbsolute: false, meetsRelative: false });
    const relativeOnly = summarizeHalfPeak(peak, report([target({ p99: 4.6 }), target({ p99: 2 })], 1000));
    expect(relativeOnly).toMatchObject({ p99Ratio: 2.3, meetsAbsolute: true, meetsRelative: false });
  });

  it('does not pass a run that did not deliver the rate (errors, or under 95% answered)', () => {
    const peak = report([target({ successRps: 2000 })]);
    const short = summarizeHalfPeak(peak, report([target({ successRps: 900, p99: 1 }), target({ p99: 1 })], 1000));
    expect(short).toMatchObject({ delivered: false, meetsAbsolute: false, meetsRelative: false });
    const failing = summarizeHalfPeak(peak, report([target({ non2xx: 5, p99: 1 }), target({ p99: 1 })], 1000));
    expect(failing.delivered).toBe(false);
  });
});

describe('many keys', () => {
  it('judges the per-CPU-second ratio of the spread against one key', () => {
    const counts = { storeKeys: 100_000, spreadKeys: 10_000, seedSeconds: 43.46 };
    const met = summarizeManyKeys(report([target({ successRps: 1300, perCpu: 1800 }), target({ successRps: 1400, perCpu: 2000 })]), counts);
    expect(met).toEqual({ storeKeys: 100_000, spreadKeys: 10_000, seedSeconds: 43.5, manyKeysPerCpuSecond: 1800,
      oneKeyPerCpuSecond: 2000, cpuRatio: 0.9, manyKeysRps: 1300, oneKeyRps: 1400, rpsRatio: 0.929, errors: 0, meetsTarget: true });
    expect(summarizeManyKeys(report([target({ perCpu: 1600 }), target({ perCpu: 2000 })]), counts))
      .toMatchObject({ cpuRatio: 0.8, meetsTarget: false });
    expect(summarizeManyKeys(report([target({ perCpu: 2000, non2xx: 3 }), target({ perCpu: 2000 })]), counts))
      .toMatchObject({ cpuRatio: 1, errors: 3, meetsTarget: false });
    // Without server CPU there is no figure to judge.
    expect(summarizeManyKeys(report([target(), target()]), counts)).toMatchObject({ cpuRatio: undefined, meetsTarget: false });
  });

  it('seeds distinct lowercase UUIDs and draws the spread without repeats', () => {
    const ids = seedDocument(1000).keys.map((k) => k.keyId);
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const drawn = sampleKeys(ids, 100);
    expect(new Set(drawn).size).toBe(100);
    for (const id of drawn) expect(ids).toContain(id);
    expect(sampleKeys(ids, 1000).sort()).toEqual([...ids].sort());
    expect(() => sampleKeys(ids, 1001)).toThrow(/cannot draw/);
  });
});

describe('RESULTS.md', () => {
  it('keeps the scenario table and adds the two procedure rows with their figures and verdicts', () => {
    const compare = report([target({ successRps: 1400, perCpu: 2000 }), target({ successRps: 5000, perCpu: 13000 })]);
    compare.comparison = [{ metric: 'requests per server CPU-second', endpoint: 2000, compare: 13000, ratio: 0.154 }];
    const peak = report([target({ successRps: 2000 })]);
    const markdown = renderResults({
      comparisons: [{ name: 'encrypt', report: compare }],
      manyKeys: summarizeManyKeys(report([target({ perCpu: 1800 }), target({ perCpu: 2000 })]),
        { storeKeys: 100_000, spreadKeys: 10_000, seedSeconds: 43.5 }),
      halfPeak: summarizeHalfPeak(peak, report([target({ p99: 7.5 }), target({ p99: 3 })], 1000)),
    }, 'settings line', { cpus: 2, cpuModel: 'test CPU', node: 'v20', commit: 'abc', date: 'today' });
    expect(markdown).toContain('| encrypt | 1400 | 5000 | 2000 | 13000 | **0.154** |');
    expect(markdown).toContain('| 100,000 keys in the store, requests spread over 10,000 of them | engine req per CPU-s 1800 (spread) vs 2000 (one key): **0.9**');
    expect(markdown).toMatch(/\| >= 0\.85 of the one-key figure \| yes \|/);
    expect(markdown).toContain('offered 1000 req/s evenly spaced');
    expect(markdown).toContain('p99 engine **7.5 ms**, reference 3 ms: **2.5x**');
    expect(markdown).toMatch(/\| <= 5 ms and <= 1\.5x the reference \| \*\*no\*\* \/ \*\*no\*\* \|/);
    expect(markdown).toContain('- machine: 2 CPUs, test CPU');
  });
});

describe('harness options for keys and arrivals', () => {
  it('reads --key-ids files, takes --keys N, keeps one selection per side and validates --arrivals', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-bench-opts-'));
    try {
      const file = join(dir, 'ids');
      writeFileSync(file, '# comment\nalias/a\n\n  key-2  \nalias/a\n');
      expect(parseBenchOptions(['--key-ids', file], {})).toMatchObject({ keyIds: ['alias/a', 'key-2'], arrivals: 'even' });
      // --help says what the file may hold: aliases too, as read above.
      expect(USAGE).toMatch(/--key-ids FILE .*one key id, ARN or alias per line/);
      const compare = ['--compare', 'http://127.0.0.1:9'];
      expect(parseBenchOptions(['--keys', '10000', ...compare, '--compare-keys', '1'], {}))
        .toMatchObject({ keyCount: 10_000, compareKeys: { keyCount: 1 } });
      expect(parseBenchOptions([...compare, '--compare-key-id', 'k'], {})).toMatchObject({ compareKeys: { keyId: 'k' } });
      expect(parseBenchOptions([], {})).toMatchObject({ compareKeys: undefined });
      expect(parseBenchOptions(['--rate', '10', '--arrivals', 'autocannon'], {})).toMatchObject({ rate: 10, arrivals: 'autocannon' });
      expect(() => parseBenchOptions(['--key-id', 'k', '--keys', '2'], {})).toThrow(/one of --key-id, --key-ids and --keys/);
      expect(() => parseBenchOptions(['--keys', '0'], {})).toThrow(/--keys/);
      expect(() => parseBenchOptions(['--key-ids', join(dir, 'missing')], {})).toThrow(UsageError);
      writeFileSync(join(dir, 'empty'), '# nothing\n\n');
      expect(() => parseBenchOptions(['--key-ids', join(dir, 'empty')], {})).toThrow(/lists no key ids/);
      expect(() => parseBenchOptions(['--arrivals', 'poisson'], {})).toThrow(/--arrivals/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds a whole number of bodies per key: the pool size rounded up, or one per key', async () => {
    const calls: string[] = [];
    const client = { call: async (operation: string, input: { KeyId?: string }) => {
      calls.push(operation);
      if (operation === 'DescribeKey') return { KeyMetadata: { KeyId: input.KeyId, KeySpec: 'SYMMETRIC_DEFAULT' } };
      return { CiphertextBlob: `blob-of-${input.KeyId}` };
    } } as unknown as KmsClient;
    const keyIdsOf = (bodies: string[]) => bodies.map((body) => (JSON.parse(body) as { KeyId: string }).KeyId);
    const few = await prepareWorkload(client, { mix: parseMix('encrypt,decrypt,generate-data-key'), keyIds: ['a', 'b', 'c'],
      payloadBytes: 16, poolSize: 8 });
    const [encrypt, decrypt, dataKey] = few.items.map((item) => keyIdsOf(item.bodies));
    expect(encrypt).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
    expect(decrypt).toEqual(encrypt);
    expect(dataKey).toEqual(['a', 'b', 'c']);
    expect(few.keys).toEqual({ encrypt: '3 keys (a, ...)', decrypt: '3 keys (a, ...)', 'generate-data-key': '3 keys (a, ...)' });
    expect(calls.filter((c) => c === 'Encrypt')).toHaveLength(9); // one ciphertext per Decrypt body

    const many = Array.from({ length: 10 }, (_, i) => `k${i}`);
    const spread = await prepareWorkload(client, { mix: parseMix('encrypt'), keyIds: many, payloadBytes: 16, poolSize: 4 });
    expect(keyIdsOf(spread.items[0]!.bodies)).toEqual(many);
  });

  it('schedules evenly spaced arrivals', () => {
    expect(dueAtMs(0, 200)).toBe(0);
    expect(dueAtMs(3, 200)).toBe(15);
    expect(dueBy(0, 200, 400)).toBe(1);
    expect(dueBy(14.9, 200, 400)).toBe(3);
    expect(dueBy(15, 200, 400)).toBe(4);
    expect(dueBy(60_000, 200, 400)).toBe(400);
  });
});
