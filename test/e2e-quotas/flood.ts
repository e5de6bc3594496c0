// Raw signed KMS traffic for the quota and backpressure tests: several concurrent loops, each sending one
// SigV4-signed request after another for a fixed time, recording every answer. Signing uses the engine's own
// SigV4 code (bench/harness/signer.ts) rather than the AWS SDK, which signs only ~1,500 requests/s per
// process (ceilings.md) and would cap the flood below the quotas it is meant to exceed.

import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { RequestSigner } from '../../bench/harness/signer.js';
import type { TestServer } from '../support/server.js';

export interface Answer {
  operation: string;
  status: number;
  /** 'ok' or the error's __type. */
  code: string;
  message: string;
  body: Record<string, unknown>;
  /** When the request was sent and how long its answer took, in ms (performance.now() clock). */
  sentAt: number;
  ms: number;
}

export type Caller = (operation: string, input: object) => Promise<Answer>;

/**
 * A caller for this server's root principal over node:http with keep-alive (about half the client CPU of
 * fetch per request, which matters: the flood must out-run the quotas on a shared 2-core machine).
 */
export function rawCaller(server: TestServer): Caller {
  const signer = new RequestSigner({ endpoint: server.url, region: server.region, credentials: server.credentials });
  const agent = new Agent({ keepAlive: true });
  const { hostname, port } = new URL(server.url);
  return (operation, input) => new Promise<Answer>((resolve, reject) => {
    const signed = signer.sign(operation, JSON.stringify(input));
    const sentAt = performance.now();
    const request = httpRequest({ agent, hostname, port, method: 'POST', path: signed.path, headers: signed.headers, timeout: 30_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const ms = performance.now() - sentAt;
          const text = Buffer.concat(chunks).toString('utf8');
          const body = text === '' ? {} : JSON.parse(text) as Record<string, unknown>;
          const status = response.statusCode ?? 0;
          const code = status === 200 ? 'ok' : String(body.__type);
          resolve({ operation, status, code, message: typeof body.message === 'string' ? body.message : '', body, sentAt, ms });
        });
        response.on('error', reject);
      });
    request.on('timeout', () => request.destroy(new Error(`${operation}: no answer in 30 s`)));
    request.on('error', reject);
    request.end(signed.body);
  });
}

export interface FloodOptions {
  operation: string;
  /** The request body of the i-th request (bodies may differ, e.g. distinct messages). */
  input: (i: number) => object;
  loops: number;
  durationMs: number;
  /** Each loop waits this long after every answer: a flood held under a known rate, whatever the machine's speed. */
  pauseMs?: number;
}

/** `loops` concurrent request loops for `durationMs`; resolves with every answer once the last one is in. */
export async function flood(call: Caller, options: FloodOptions): Promise<Answer[]> {
  const answers: Answer[] = [];
  const deadline = performance.now() + options.durationMs;
  let sent = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      answers.push(await call(options.operation, options.input(sent++)));
      if (options.pauseMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  await Promise.all(Array.from({ length: options.loops }, loop));
  return answers;
}

/** Answers by code: { ok: 1200, ThrottlingException: 3400 }. */
export function countByCode(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[answer.code] = (counts[answer.code] ?? 0) + 1;
  return counts;
}

/** The value of one sample of a Prometheus text exposition, or undefined when no sample has exactly these labels. */
export function sample(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    const wanted = Object.entries(labels);
    if (wanted.length === Object.keys(found).length && wanted.every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

export async function scrape(server: TestServer): Promise<string> {
  const response = await fetch(`${server.url}/metrics`);
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  return await response.text();
}

/** Resident set size of a process in bytes (Linux /proc), the figure the kernel charges it. */
export function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Audit records of the server's log (JSON lines), for counting attempts the server actually saw. */
export function auditRecords(server: TestServer): Array<Record<string, unknown>> {
  return readFileSync(`${server.dataDir}/audit.jsonl`, 'utf8').split('\n').filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
