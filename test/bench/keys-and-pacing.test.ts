// End-to-end: the compiled harness (dist/bench/harness/main.js) against a tiny fake KMS on loopback that records
// which KeyId every Encrypt named and when each request arrived. Requests spread over the keys of --key-ids FILE
// and --keys N (found with ListKeys across pages, the unsuitable ones skipped, the rest created); --rate arrives
// evenly spaced, where autocannon's overallRate arrives in per-second bursts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runHarness } from './run-harness.js';
import type { BenchReport } from '../../bench/harness/report.js';

const ARN = (id: string): string => `arn:aws:kms:us-east-1:111122223333:key/${id}`;

interface FakeKey {
  KeyId: string;
  KeySpec: string;
  KeyUsage: string;
  KeyState: string;
  KeyManager: string;
}

/** The store the fake answers ListKeys from, and what it saw. */
const store: FakeKey[] = [];
const encryptsByKey = new Map<string, number>();
const arrivals: number[] = [];
const counts: Record<string, number> = {};
let created = 0;
let server: Server;
let endpoint: string;
let workDir: string;

const key = (n: number, overrides: Partial<FakeKey> = {}): FakeKey => ({
  KeyId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, KeySpec: 'SYMMETRIC_DEFAULT',
  KeyUsage: 'ENCRYPT_DECRYPT', KeyState: 'Enabled', KeyManager: 'CUSTOMER', ...overrides,
});
const metadata = (k: FakeKey) => ({ ...k, Arn: ARN(k.KeyId) });
const bareId = (keyId: string): string => keyId.split('/').pop()!;

/** ListKeys pages are at most 7 keys whatever the Limit (the API allows fewer), so paging is exercised. */
const PAGE = 7;

function answer(target: string, input: Record<string, unknown>): [number, unknown] {
  switch (target) {
    case 'DescribeKey': {
      const found = store.find((k) => k.KeyId === bareId(String(input.KeyId)));
      return found ? [200, { KeyMetadata: metadata(found) }] : [200, { KeyMetadata: metadata(key(0, { KeyId: bareId(String(input.KeyId)) })) }];
    }
    case 'ListKeys': {
      const start = input.Marker ? Number(input.Marker) : 0;
      const page = store.slice(start, start + PAGE);
      const next = start + page.length;
      return [200, { Keys: page.map((k) => ({ KeyId: k.KeyId, KeyArn: ARN(k.KeyId) })), Truncated: next < store.length,
        ...(next < store.length ? { NextMarker: String(next) } : {}) }];
    }
    case 'CreateKey': {
      const made = key(1000 + ++created, { KeySpec: String(input.KeySpec), KeyUsage: String(input.KeyUsage) });
      store.push(made);
      return [200, { KeyMetadata: metadata(made) }];
    }
    case 'Encrypt': {
      const id = bareId(String(input.KeyId));
      encryptsByKey.set(id, (encryptsByKey.get(id) ?? 0) + 1);
      return [200, { CiphertextBlob: 'AQID', KeyId: ARN(id), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }];
    }
    case 'GenerateDataKey':
      return [200, { CiphertextBlob: 'AQID', Plaintext: 'AAAA', KeyId: ARN(bareId(String(input.KeyId))) }];
    case 'Decrypt':
      return [200, { Plaintext: 'AAAA', KeyId: String(input.KeyId), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }];
    default:
      return [400, { __type: 'UnsupportedOperationException', message: target }];
  }
}

const bench = (args: string[]) => runHarness(['--endpoint', endpoint, '--quiet', '--json', ...args]);

/** The most requests that arrived within any `windowMs` (arrival times are sorted). */
function busiestWindow(windowMs: number): number {
  let most = 0;
  let first = 0;
  for (let last = 0; last < arrivals.length; last++) {
    while (arrivals[last]! - arrivals[first]! >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'kms-bench-keys-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target']).replace('TrentService.', '');
      if (target === 'Encrypt' || target === 'GenerateDataKey') arrivals.push(performance.now());
      counts[target] = (counts[target] ?? 0) + 1;
      const [status, body] = answer(target, JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>);
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(workDir, { recursive: true, force: true });
});

beforeEach(() => {
  store.length = 0;
  encryptsByKey.clear();
  arrivals.length = 0;
  for (const name of Object.keys(counts)) delete counts[name];
  created = 0;
});

describe('spreading requests over many keys', () => {
  it('--key-ids FILE: every listed key is used, each about equally often', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => key(i + 1).KeyId);
    const file = join(workDir, 'key-ids.txt');
    // ARNs and bare ids, a comment, a blank line and a repeated line (used once).
    writeFileSync(file, ['# keys for the spread', ...ids.slice(0, 20).map(ARN), '', ...ids.slice(20), ids[20]].join('\n'));
    const run = await bench(['--key-ids', file, '--pool-size', '8', '--duration', '2', '--connections', '2']);
    expect(run.code, run.stderr).toBe(0);
    const target = (JSON.parse(run.stdout) as BenchReport).targets[0]!;
    expect(target.requests.ok).toBeGreaterThan(200);
    expect([...encryptsByKey.keys()].sort()).toEqual([...ids].sort());
    // Bodies are handed out round robin, one per key: the counts differ by at most the requests cut off at the end.
    const perKey = [...encryptsByKey.values()];
    expect(Math.max(...perKey) - Math.min(...perKey)).toBeLessThanOrEqual(2);
    expect(target.keys.encrypt).toMatch(/^40 keys \(/);
    expect(counts.DescribeKey).toBe(1); // the spec of the first key stands for the list
    expect(counts.CreateKey).toBeUndefined();
  });

  it('--keys N: uses the suitable keys ListKeys pages through, skips the others, creates the rest', async () => {
    const suitable = Array.from({ length: 12 }, (_, i) => key(i + 1));
    const unsuitable = [
      key(101, { KeyState: 'Disabled' }), key(102, { KeyState: 'PendingDeletion' }),
      key(103, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }), key(104, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
      key(105, { KeyManager: 'AWS' }), key(106, { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' }),
    ];
    // Interleaved, across three ListKeys pages.
    store.push(...suitable.flatMap((k, i) => (unsuitable[i] ? [k, unsuitable[i]!] : [k])));
    const run = await bench(['--keys', '30', '--pool-size', '4', '--duration', '2', '--connections', '2']);
    expect(run.code, run.stderr).toBe(0);
    expect(counts.ListKeys).toBe(3);
    expect(counts.CreateKey).toBe(18);
    const used = [...encryptsByKey.keys()];
    expect(used).toHaveLength(30);
    for (const k of suitable) expect(used).toContain(k.KeyId);
    for (const k of unsuitable) expect(used).not.toContain(k.KeyId);
    const target = (JSON.parse(run.stdout) as BenchReport).targets[0]!;
    expect(target.keys.encrypt).toMatch(/^30 keys \(/);
  });
});

describe('a fixed arrival rate', () => {
  it('--rate sends evenly spaced requests and answers for every one of them', async () => {
    const run = await bench(['--key-id', key(1).KeyId, '--rate', '200', '--duration', '2', '--connections', '8']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as BenchReport;
    const target = report.targets[0]!;
    expect(report.config).toMatchObject({ rate: 200, arrivals: 'even' });
    // The paced loader issues exactly rate x duration requests and waits for their answers; before its clock
    // starts, each of the 8 connections carries one request that is not counted (paced-load.ts).
    expect(target.requests).toMatchObject({ total: 400, ok: 400, non2xx: 0, transportErrors: 0 });
    expect(encryptsByKey.get(key(1).KeyId)).toBe(400 + 8);
    // 50 arrive in an even 250 ms; a burst would put a second's 200 there.
    expect(busiestWindow(250)).toBeLessThanOrEqual(100);
    expect(target.sendLagMs!.p50).toBeGreaterThanOrEqual(0);
  });

  it('--workers beyond --connections still offers the whole rate', async () => {
    const run = await bench(['--key-id', key(1).KeyId, '--rate', '20', '--duration', '1', '--connections', '1',
      '--workers', '3']);
    expect(run.code, run.stderr).toBe(0);
    const target = (JSON.parse(run.stdout) as BenchReport).targets[0]!;
    expect(target.requests).toMatchObject({ total: 20, ok: 20 });
    expect(encryptsByKey.get(key(1).KeyId)).toBe(20 + 1); // and the one connection's lead-in
  });

  it('--arrivals autocannon is autocannon overallRate: each second\'s budget arrives in a burst', async () => {
    const run = await bench(['--key-id', key(1).KeyId, '--rate', '200', '--arrivals', 'autocannon', '--duration', '2',
      '--connections', '8']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as BenchReport;
    expect(report.config).toMatchObject({ rate: 200, arrivals: 'autocannon' });
    expect(report.targets[0]!.sendLagMs).toBeUndefined();
    expect(busiestWindow(250)).toBeGreaterThanOrEqual(150);
  });

  it('chains the envelope\'s Decrypt after each GenerateDataKey under a fixed rate', async () => {
    const run = await bench(['--key-id', key(1).KeyId, '--scenario', 'envelope', '--rate', '100', '--duration', '1',
      '--connections', '4']);
    expect(run.code, run.stderr).toBe(0);
    const { operations, requests } = (JSON.parse(run.stdout) as BenchReport).targets[0]!;
    expect(operations).toEqual({ GenerateDataKey: { ok: 100, errors: 0 }, Decrypt: { ok: 100, errors: 0 } });
    expect(requests.total).toBe(200);
    expect(counts.Decrypt).toBe(100);
  });
});
