// End-to-end: the compiled harness (dist/bench/harness/main.js, the same code `kms-engine bench` runs) against
// the compiled reference server and a tiny error-answering server, all on loopback, 2-second runs.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HARNESS, runHarness } from './run-harness.js';
import type { BenchReport, TargetReport } from '../../bench/harness/report.js';
import { assertWellFormedXml } from './well-formed-xml.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const REFERENCE = join(ROOT, 'dist/bench/reference-server.js');

let reference: ChildProcess;
let referenceUrl: string;
let workDir: string;

function startReference(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [REFERENCE, '--port', '0', '--host', '127.0.0.1', '--processes', '1'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`reference server did not start: ${out}`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]! });
      }
    });
    child.on('exit', (code) => reject(new Error(`reference server exited with ${code}`)));
  });
}

const bench = (args: string[]) => runHarness(args);

function expectConsistentCounts(target: TargetReport): void {
  const { requests } = target;
  expect(requests.total).toBe(requests.ok + requests.non2xx + requests.transportErrors);
  const statusTotal = Object.values(target.statusCounts).reduce((a, b) => a + b, 0);
  expect(statusTotal).toBe(requests.ok + requests.non2xx);
  expect(Object.values(target.errorsByCode).reduce((a, b) => a + b, 0)).toBe(requests.non2xx);
  const operations = Object.values(target.operations);
  expect(operations.reduce((sum, op) => sum + op.ok, 0)).toBe(requests.ok);
  expect(operations.reduce((sum, op) => sum + op.errors, 0)).toBe(requests.non2xx);
  expect(target.series.reduce((sum, point) => sum + point.requestsPerSecond, 0)).toBe(requests.ok + requests.non2xx);
  const { p50, p90, p99, p99_9, max } = target.latencyMs;
  expect(p50).toBeGreaterThan(0);
  expect(p50).toBeLessThanOrEqual(p90);
  expect(p90).toBeLessThanOrEqual(p99);
  expect(p99).toBeLessThanOrEqual(p99_9);
  expect(p99_9).toBeLessThanOrEqual(max);
}

beforeAll(async () => {
  // `npm test` builds first; a bare `npx vitest run test/bench` builds here when the output is missing.
  if (!existsSync(HARNESS) || !existsSync(REFERENCE)) {
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'ignore' });
    } catch {
      // tsc exits non-zero on type errors elsewhere in the tree but still emits; the checks below decide.
    }
  }
  expect(existsSync(HARNESS) && existsSync(REFERENCE)).toBe(true);
  ({ child: reference, url: referenceUrl } = await startReference());
  workDir = mkdtempSync(join(tmpdir(), 'kms-bench-test-'));
});

afterAll(() => {
  reference?.kill();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('kms-engine bench against the reference server', () => {
  it('counts every request, orders the percentiles, measures server CPU and writes the report files', async () => {
    const out = join(workDir, 'encrypt');
    const run = await bench(['--endpoint', referenceUrl, '--scenario', 'encrypt', '--duration', '2', '--connections', '4',
      '--pool-size', '32', '--server-pid', String(reference.pid), '--out', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as BenchReport;
    expect(report.targets).toHaveLength(1);
    const target = report.targets[0]!;
    expect(target.requests.ok).toBeGreaterThan(100);
    expect(target.requests.non2xx).toBe(0);
    expectConsistentCounts(target);
    expect(target.operations.Encrypt!.ok).toBe(target.requests.ok);
    expect(target.serverCpuSeconds).toBeGreaterThan(0);
    expect(target.requestsPerServerCpuSecond).toBeCloseTo(target.requests.ok / target.serverCpuSeconds!, -2);
    expect(run.stderr).toMatch(/measure http:\/\/127\.0\.0\.1:\d+ \d+s: \d+ responses/);

    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toEqual(report);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('| endpoint | requests | 2xx |');
    for (const chart of ['throughput.svg', 'latency.svg']) {
      const svg = readFileSync(join(out, chart), 'utf8');
      expect(assertWellFormedXml(svg).root).toBe('svg');
      expect(svg).toContain('<polyline');
    }
  });

  it('chains the envelope (GenerateDataKey then Decrypt) across two load threads and merges their counts', async () => {
    const run = await bench(['--endpoint', referenceUrl, '--scenario', 'envelope', '--duration', '2',
      '--connections', '4', '--workers', '2', '--quiet', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const target = (JSON.parse(run.stdout) as BenchReport).targets[0]!;
    expectConsistentCounts(target);
    const { GenerateDataKey, Decrypt } = target.operations;
    expect(Decrypt!.ok).toBeGreaterThan(50);
    expect(Decrypt!.errors).toBe(0);
    // Each Decrypt follows its own GenerateDataKey on the same connection: at most one per connection in flight.
    expect(GenerateDataKey!.ok - Decrypt!.ok).toBeGreaterThanOrEqual(0);
    expect(GenerateDataKey!.ok - Decrypt!.ok).toBeLessThanOrEqual(4);
    expect(target.signing.signatures).toBeGreaterThanOrEqual(Decrypt!.ok);
  });

  it('--compare runs both endpoints in rounds and prints ratios per metric', async () => {
    const out = join(workDir, 'compare');
    const run = await bench(['--endpoint', referenceUrl, '--compare', referenceUrl.replace('127.0.0.1', 'localhost'),
      '--scenario', 'sign', '--duration', '2', '--rounds', '2', '--connections', '4', '--pool-size', '16', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('## Comparison (endpoint / compare)');
    expect(run.stdout).toMatch(/\| throughput req\/s \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    expect(run.stdout).toMatch(/\| latency p99 ms \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as BenchReport;
    expect(report.targets).toHaveLength(2);
    for (const target of report.targets) expectConsistentCounts(target);
    const throughput = report.comparison!.find((r) => r.metric === 'throughput req/s')!;
    expect(throughput.ratio).toBeCloseTo(throughput.endpoint / throughput.compare, 2);
    // Alternating rounds: the stderr progress shows both endpoints measured.
    expect(run.stderr).toContain(`measure ${referenceUrl}`);
  });
});

describe('kms-engine bench against an endpoint answering errors', () => {
  let server: Server;
  const answered: Record<string, number> = {};

  beforeAll(async () => {
    let n = 0;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const target = String(req.headers['x-amz-target']);
        n++;
        // Encrypt: every 2nd is throttled, every 3rd (of the rest) a namespaced NotFound, others succeed.
        let status = 200;
        let body = '{"CiphertextBlob":"AA==","KeyId":"k"}';
        if (target === 'TrentService.DescribeKey') {
          // A stub's answer: 200 without KeyMetadata (the harness keeps the spec it assumed).
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
          res.end('{}');
          return;
        }
        if (target !== 'TrentService.Encrypt' || n % 2 === 0) {
          status = 400;
          body = '{"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS."}';
        } else if (n % 3 === 0) {
          status = 404;
          body = '{"__type":"com.amazonaws.kms#NotFoundException","message":"Key does not exist"}';
        }
        if (target === 'TrentService.Encrypt') {
          const label = status === 200 ? 'ok' : status === 400 ? 'ThrottlingException' : 'NotFoundException';
          answered[label] = (answered[label] ?? 0) + 1;
        }
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('counts non-2xx responses by their __type code, throttles separately', async () => {
    const { port } = server.address() as AddressInfo;
    const run = await bench(['--endpoint', `http://127.0.0.1:${port}`, '--scenario', 'encrypt', '--key-id', 'alias/bench',
      '--duration', '2', '--connections', '3', '--pool-size', '8', '--quiet', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const target = (JSON.parse(run.stdout) as BenchReport).targets[0]!;
    expectConsistentCounts(target);
    const throttled = target.errorsByCode.ThrottlingException!;
    const notFound = target.errorsByCode.NotFoundException!;
    expect(throttled).toBeGreaterThan(10);
    expect(notFound).toBeGreaterThan(5);
    expect(target.throttles).toBe(throttled);
    expect(target.statusCounts['400']).toBe(throttled);
    expect(target.statusCounts['404']).toBe(notFound);
    // The server may have answered a few requests the harness stopped reading when the time was up.
    const inFlight = 3;
    expect(answered.ThrottlingException! - throttled).toBeGreaterThanOrEqual(0);
    expect(answered.ThrottlingException! - throttled).toBeLessThanOrEqual(inFlight);
    expect(answered.NotFoundException! - notFound).toBeLessThanOrEqual(inFlight);
    expect(answered.ok! - target.requests.ok).toBeLessThanOrEqual(inFlight);
  });
});
