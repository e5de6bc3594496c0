// The harness's pure parts in-process: error-code extraction, exact histogram merging, mix and option
// parsing with credential precedence, and the SVG writer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { progressPrinter } from '../../bench/harness/cli.js';
import { parseBenchOptions, resolveCredentials, UsageError } from '../../bench/harness/options.js';
import { splitEvenly } from '../../bench/harness/parallel.js';
import { errorCodeOf, latencySummary, LoadRecorder, mergeConcurrent, mergeSequential } from '../../bench/harness/recorder.js';
import { parseMix } from '../../bench/harness/scenarios.js';
import { endpointParts } from '../../bench/harness/signer.js';
import { niceTicks, renderLineChart } from '../../bench/harness/svg-chart.js';
import { assertWellFormedXml } from './well-formed-xml.js';

describe('errorCodeOf', () => {
  it('reads __type, strips a namespace and a Coral suffix, falls back to the status', () => {
    expect(errorCodeOf(400, '{"__type":"ThrottlingException","message":"x"}')).toBe('ThrottlingException');
    expect(errorCodeOf(404, '{"__type":"com.amazonaws.kms#NotFoundException"}')).toBe('NotFoundException');
    expect(errorCodeOf(400, '{"__type":"ValidationException:http://internal.amazon.com/coral/x/"}')).toBe('ValidationException');
    expect(errorCodeOf(400, '{"code":"AccessDeniedException"}')).toBe('AccessDeniedException');
    expect(errorCodeOf(502, '<html>bad gateway</html>')).toBe('HTTP_502');
    expect(errorCodeOf(500, '')).toBe('HTTP_500');
  });
});

describe('LoadRecorder merging', () => {
  const record = (recorder: LoadRecorder, latenciesMs: number[], status = 200): void => {
    for (const ms of latenciesMs) {
      recorder.recordResponse('Encrypt', status, status === 200 ? '{}' : '{"__type":"ThrottlingException"}');
      recorder.recordLatency(ms);
    }
  };

  it('adds histograms bucket by bucket: merged percentiles equal those of one recorder that saw everything', () => {
    const fast = Array.from({ length: 900 }, (_, i) => 1 + (i % 10) / 10);
    const slow = Array.from({ length: 100 }, (_, i) => 50 + i);
    const a = new LoadRecorder();
    const b = new LoadRecorder();
    const all = new LoadRecorder();
    record(a, fast);
    record(b, slow, 400);
    record(all, fast);
    record(all, slow, 400);
    const merged = mergeConcurrent([a.result(), b.result()]);
    expect(latencySummary(merged.latency)).toEqual(latencySummary(all.result().latency));
    // Averaging the two p99s (~1.9 and ~149) would be wrong; the merged p99 sits in the slow tail.
    expect(latencySummary(merged.latency).p90).toBeLessThan(2);
    expect(latencySummary(merged.latency).p99).toBeGreaterThan(130);
    expect(merged.responses).toBe(1000);
    expect(merged.ok).toBe(900);
    expect(merged.errorCodes).toEqual({ ThrottlingException: 100 });
    expect(merged.operations.Encrypt).toEqual({ ok: 900, errors: 100 });
  });

  it('lays sequential segments end to end and adds their elapsed time', () => {
    const a = new LoadRecorder();
    record(a, [1, 2, 3]);
    const first = { ...a.result(), elapsedMs: 2000 };
    const joined = mergeSequential([first, first]);
    expect(joined.elapsedMs).toBe(4000);
    expect(joined.series.map((s) => s.second)).toEqual([0, 2]);
    expect(joined.responses).toBe(6);
  });

  it('counts transport errors apart from responses', () => {
    const recorder = new LoadRecorder();
    recorder.recordTransportError(true);
    recorder.recordTransportError(false);
    const result = recorder.result();
    expect(result).toMatchObject({ transportErrors: 2, timeouts: 1, responses: 0 });
    expect(latencySummary(result.latency).p99).toBe(0);
  });
});

describe('options', () => {
  const env = {};

  it('parses a weighted mix and rejects unknown scenarios or weights', () => {
    expect(parseMix('encrypt=3,decrypt=1,sign')).toEqual([
      { scenario: 'encrypt', weight: 3 }, { scenario: 'decrypt', weight: 1 }, { scenario: 'sign', weight: 1 }]);
    expect(() => parseMix('encrypt=0')).toThrow(/positive integer/);
    expect(() => parseMix('mac=1')).toThrow(/unknown scenario 'mac'/);
    expect(() => parseMix('encrypt=1=2')).toThrow(/'encrypt=1=2' in --mix is not NAME or NAME=WEIGHT/);
    expect(() => parseMix('encrypt=1,decrypt,encrypt=2')).toThrow(/'encrypt' is named twice/);
  });

  it('refuses a --key-spec that suits none of the scenarios, instead of measuring keys of another spec', () => {
    expect(() => parseBenchOptions(['--scenario', 'sign', '--key-spec', 'SYMMETRIC_DEFAULT'], env))
      .toThrow(/--key-spec SYMMETRIC_DEFAULT suits none of sign/);
    expect(() => parseBenchOptions(['--scenario', 'generate-data-key', '--key-spec', 'RSA_2048'], env)).toThrow(UsageError);
    expect(() => parseBenchOptions(['--mix', 'encrypt=1,envelope=1', '--key-spec', 'ECC_NIST_P256'], env)).toThrow(UsageError);
    expect(() => parseBenchOptions(['--scenario', 'verify', '--key-spec', 'HMAC_256'], env)).toThrow(UsageError);
    // Where it suits some of a mix, those use it and the others their default (bench/README.md, "Keys").
    expect(parseBenchOptions(['--mix', 'encrypt=1,sign=1', '--key-spec', 'ECC_NIST_P256'], env))
      .toMatchObject({ keySpec: 'ECC_NIST_P256' });
    expect(parseBenchOptions(['--scenario', 'sign', '--key-spec', 'RSA_2048'], env)).toMatchObject({ keySpec: 'RSA_2048' });
  });

  it('applies defaults and rejects malformed values with a message naming the option', () => {
    const options = parseBenchOptions([], env);
    expect(options).toMatchObject({ endpoint: 'http://127.0.0.1:8080', connections: 64, payloadBytes: 1024,
      mix: [{ scenario: 'encrypt', weight: 1 }], workers: 1, json: false });
    expect(() => parseBenchOptions(['--connections', '0'], env)).toThrow(/--connections/);
    expect(() => parseBenchOptions(['--payload-bytes', '5000'], env)).toThrow(/--payload-bytes/);
    expect(() => parseBenchOptions(['--scenario', 'encrypt', '--mix', 'decrypt=1'], env)).toThrow(UsageError);
    expect(() => parseBenchOptions(['--key-spec', 'AES_999'], env)).toThrow(/--key-spec/);
    expect(() => parseBenchOptions(['--endpoint', 'ftp://x'], env)).toThrow(/--endpoint/);
    expect(() => parseBenchOptions(['--bogus'], env)).toThrow(UsageError);
    expect(parseBenchOptions(['--server-pid', '12,34'], env)).toMatchObject({ serverPids: [12, 34] });
  });

  it('takes credentials from flags, then AWS_*, then KMS_*, then KMS_DATA_DIR/credentials', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-bench-creds-'));
    try {
      writeFileSync(join(dir, 'credentials'), JSON.stringify({ accessKeyId: 'FILE', secretAccessKey: 'file-secret' }));
      const full = { AWS_ACCESS_KEY_ID: 'AWS', AWS_SECRET_ACCESS_KEY: 's1', KMS_ACCESS_KEY_ID: 'KMS',
        KMS_SECRET_ACCESS_KEY: 's2', KMS_DATA_DIR: dir };
      expect(resolveCredentials({ accessKeyId: 'FLAG', secretAccessKey: 's0' }, full)?.credentials.accessKeyId).toBe('FLAG');
      expect(resolveCredentials({}, full)?.credentials.accessKeyId).toBe('AWS');
      expect(resolveCredentials({}, { ...full, AWS_ACCESS_KEY_ID: undefined })?.credentials.accessKeyId).toBe('KMS');
      expect(resolveCredentials({}, { KMS_DATA_DIR: dir })?.credentials).toEqual({ accessKeyId: 'FILE', secretAccessKey: 'file-secret' });
      expect(resolveCredentials({}, { KMS_DATA_DIR: join(dir, 'missing') })).toBeUndefined();
      expect(() => resolveCredentials({ accessKeyId: 'FLAG' }, {})).toThrow(/go together/);
      // A credentials file that is not JSON is a usage error naming the file, not a crash with a stack.
      writeFileSync(join(dir, 'credentials'), 'not json');
      expect(() => resolveCredentials({}, { KMS_DATA_DIR: dir })).toThrow(UsageError);
      expect(() => resolveCredentials({}, { KMS_DATA_DIR: dir })).toThrow(`${join(dir, 'credentials')} is not JSON`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('splits connections and rates across load threads without losing any', () => {
    expect(splitEvenly(64, 3)).toEqual([22, 21, 21]);
    expect(splitEvenly(1, 2)).toEqual([1, 0]);
  });

  it('signs for the host and path a client would send', () => {
    expect(endpointParts('http://127.0.0.1:8080')).toEqual({ host: '127.0.0.1:8080', path: '/' });
    expect(endpointParts('https://kms.example:443/prefix')).toEqual({ host: 'kms.example', path: '/prefix/' });
  });
});

describe('SVG chart writer', () => {
  it('draws well-formed XML with one polyline per series and escaped labels', () => {
    const svg = renderLineChart({ title: 'a < b & "c"', xLabel: 's', yLabel: 'req/s', series: [
      { name: 'http://x:1/?a=1&b=2', points: [[0, 10], [1, 2500], [2, 1800]] },
      { name: 'second', points: [[0, 5], [1, 7]] },
    ] });
    expect(assertWellFormedXml(svg)).toMatchObject({ root: 'svg' });
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(svg).toContain('2,500'); // a y tick above the highest point
  });

  it('picks round tick steps that cover the maximum', () => {
    expect(niceTicks(2500)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });

  it('rejects malformed XML (the checker is real)', () => {
    expect(() => assertWellFormedXml('<svg><g></svg>')).toThrow();
    expect(() => assertWellFormedXml('<svg a=1/>')).toThrow();
    expect(() => assertWellFormedXml('<svg>AT&T</svg>')).toThrow();
  });
});

describe('the progress line', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('shows every second of a segment, even when a tick comes a little under a second after the last', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const print = progressPrinter((text) => lines.push(text));
    const at = (wallMs: number, elapsedMs: number, responses: number): void => {
      vi.setSystemTime(1_000_000 + wallMs);
      print('http://127.0.0.1:8080', 'measure', { elapsedMs, responses, ok: responses, non2xx: 0, transportErrors: 0 });
    };
    at(1003, 1003, 100);
    at(2001, 2001, 200); // 998 ms of wall clock after the last line
    at(2002, 2002, 200); // the same second again: no new line
    at(3004, 3004, 300);
    expect(lines.map((line) => / (\d+s): /.exec(line)?.[1])).toEqual(['1s', '2s', '3s']);
    expect(lines[1]).toBe('measure http://127.0.0.1:8080 2s: 200 responses, 100 req/s, 0 non-2xx, 0 transport errors\n');
  });
});
