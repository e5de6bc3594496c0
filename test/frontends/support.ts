// Helpers for KMS_FRONTENDS tests: clients that open a new connection per request (the primary hands each new
// connection to the next child in turn, so consecutive calls land on different front ends), which front end
// answered a request (from the per-front-end audit files), and the children of the primary.
import { CreateAliasCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/paths.js';
import type { TestServer } from '../support/server.js';

export const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client whose every request travels on a connection of its own (no keep-alive). */
export function freshConnectionClient(server: TestServer, credentials = server.credentials): KMSClient {
  return new KMSClient({
    region: server.region, endpoint: server.url, credentials, maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: false }) },
  });
}

import { outcome } from '../support/sdk-errors.js';
export { outcome };

/** The per-front-end audit files (KMS_AUDIT_LOG.N) in a data dir, by front-end index. */
export function auditFiles(dataDir: string): Map<number, string> {
  const files = new Map<number, string>();
  for (const name of readdirSync(dataDir)) {
    const match = /^audit\.jsonl\.(\d+)$/.exec(name);
    if (match) files.set(Number(match[1]), join(dataDir, name));
  }
  return files;
}

interface AuditLine { requestID?: string; chain?: { node?: string } }

function auditLines(path: string): AuditLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '').flatMap((line) => {
    try {
      return [JSON.parse(line) as AuditLine];
    } catch {
      return []; // a line being written right now
    }
  });
}

/** The front end (audit file index) that answered each request id; waits for the audit batches to land. */
export async function answeredBy(dataDir: string, requestIds: string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (let attempt = 0; attempt < 50; attempt++) {
    found.clear();
    for (const [index, path] of auditFiles(dataDir)) {
      for (const line of auditLines(path)) if (line.requestID !== undefined) found.set(line.requestID, index);
    }
    if (requestIds.every((id) => found.has(id))) break;
    await sleep(100);
  }
  return new Map(requestIds.filter((id) => found.has(id)).map((id) => [id, found.get(id)!]));
}

/** Audit lines written so far by each front end (by audit file index). */
export function auditLineCounts(dataDir: string): Map<number, number> {
  return new Map([...auditFiles(dataDir)].map(([index, path]) => [index, auditLines(path).length]));
}

/** The chain node ids written in an audit file. */
export const chainNodes = (path: string): Set<string | undefined> => new Set(auditLines(path).map((line) => line.chain?.node));

/** Direct child processes of `pid` (the front ends of a primary). */
export { childPids } from '../../bench/harness/server-cpu.js';

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `kms-engine audit verify FILE`: exit status and its one line. */
export function verifyAudit(path: string): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [BIN, 'audit', 'verify', path], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/** The sum of a metric's samples whose labels include `labels`, from Prometheus text. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).startsWith('{') ? line.slice(name.length + 1, line.indexOf('}')) : '';
    if (Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`))) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

/**
 * `count` CreateAlias calls on one key at once, each with its own alias name, over kept-alive connections opened
 * first on every front end, so the flood arrives together in each of them. Resolves with each call's outcome.
 */
export async function createAliasFlood(server: TestServer, keyId: string, count = 60): Promise<string[]> {
  const flood = server.client();
  try {
    await Promise.all(Array.from({ length: count }, () => flood.send(new DescribeKeyCommand({ KeyId: keyId }))));
    return await Promise.all(Array.from({ length: count }, (_, i) =>
      outcome(flood.send(new CreateAliasCommand({ AliasName: `alias/race-many-${i}`, TargetKeyId: keyId })))));
  } finally {
    flood.destroy();
  }
}
