// Backpressure on the real server (issue 5): with one worker and a short job queue (KMS_MAX_QUEUED_JOBS), a
// flood of slow work (RSA_4096 Sign, milliseconds of CPU each) is refused with ThrottlingException at once
// instead of queueing behind the worker, the queue never grows past its bound, and memory stays flat.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import { countByCode, flood, rawCaller, residentBytes, sample, scrape, type Answer, type Caller } from './flood.js';

const THROTTLING_MESSAGE = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';
const MAX_QUEUED_JOBS = 4;

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`KMS_WORKERS=1, KMS_MAX_QUEUED_JOBS=${MAX_QUEUED_JOBS} under an RSA_4096 Sign flood`, () => {
  let server: TestServer;
  let call: Caller;
  let answers: Answer[];
  let deepestQueue = 0;
  let rssBefore: number;
  let rssAfter: number;

  beforeAll(async () => {
    server = await startServer({ env: { KMS_WORKERS: '1', KMS_MAX_QUEUED_JOBS: String(MAX_QUEUED_JOBS) } });
    call = rawCaller(server);
    const created = await call('CreateKey', { KeySpec: 'RSA_4096', KeyUsage: 'SIGN_VERIFY' });
    const keyId = (created.body.KeyMetadata as { KeyId: string }).KeyId;
    // Warm the path (key cache, connections) so the memory baseline is the steady state, not the cold start.
    await call('Sign', { KeyId: keyId, SigningAlgorithm: 'RSASSA_PSS_SHA_256', Message: Buffer.from('warm').toString('base64') });
    rssBefore = residentBytes(server.process.pid!);

    let flooding = true;
    const watchQueue = (async () => {
      while (flooding) {
        deepestQueue = Math.max(deepestQueue, sample(await scrape(server), 'kms_pool_queue_depth') ?? 0);
        await sleep(50);
      }
    })();
    answers = await flood(call, {
      operation: 'Sign', loops: 64, durationMs: 3_000,
      input: (i) => ({ KeyId: keyId, SigningAlgorithm: 'RSASSA_PSS_SHA_256', Message: Buffer.from(`message ${i}`).toString('base64') }),
    });
    flooding = false;
    await watchQueue;
    rssAfter = residentBytes(server.process.pid!);
  });

  afterAll(async () => {
    await server?.remove();
  });

  it('answers the overflow with AWS\'s ThrottlingException and still signs what fits', () => {
    const counts = countByCode(answers);
    expect(Object.keys(counts).sort()).toEqual(['ThrottlingException', 'ok']);
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.ThrottlingException).toBeGreaterThan(counts.ok!);
    for (const answer of answers.filter((a) => a.code !== 'ok')) {
      expect(answer.status).toBe(400);
      expect(answer.message).toBe(THROTTLING_MESSAGE);
    }
  });

  it('refuses at once instead of queueing: refusals overtake admitted requests sent before them', () => {
    const admitted = answers.filter((a) => a.code === 'ok').sort((a, b) => a.sentAt - b.sentAt);
    const refused = answers.filter((a) => a.code !== 'ok');
    // Latest answer time among admitted requests sent up to each point: a refusal answered before it overtook
    // work already waiting for the worker, which a refusal that queued (FIFO) behind that work never could.
    const latestAnswer: number[] = [];
    for (const answer of admitted) latestAnswer.push(Math.max(latestAnswer.at(-1) ?? 0, answer.sentAt + answer.ms));
    const overtook = refused.filter((answer) => {
      let lo = 0;
      let hi = admitted.length; // admitted[0 .. lo) were sent before this refusal
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (admitted[mid]!.sentAt < answer.sentAt) lo = mid + 1; else hi = mid;
      }
      return lo > 0 && latestAnswer[lo - 1]! > answer.sentAt + answer.ms;
    });
    const okMs = median(admitted.map((a) => a.ms));
    const refusedMs = median(refused.map((a) => a.ms));
    console.log(`RSA_4096 Sign flood: ${JSON.stringify(countByCode(answers))}; median answer ok ${okMs.toFixed(1)} ms, `
      + `throttled ${refusedMs.toFixed(1)} ms; ${overtook.length} of ${refused.length} refusals overtook admitted work; `
      + `deepest queue ${deepestQueue}; RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB`);
    // Not a stopwatch (the machine may be busy): an ordering that only holds if refusals skip the queue.
    expect(overtook.length).toBeGreaterThanOrEqual(0.9 * refused.length);
    expect(refusedMs).toBeLessThan(okMs);
  });

  it('never lets the job queue grow past KMS_MAX_QUEUED_JOBS', () => {
    expect(deepestQueue).toBeLessThanOrEqual(MAX_QUEUED_JOBS);
  });

  it('keeps the server\'s resident memory flat', () => {
    // Generous: the flood's answers and sockets cost a few MiB; unbounded queueing would not stay this small.
    expect(rssAfter - rssBefore).toBeLessThan(128 * 2 ** 20);
  });

  it('counts the refusals in /metrics as Sign RSA_4096 ThrottlingException, not as a quota class', async () => {
    const metrics = await scrape(server);
    const counts = countByCode(answers);
    expect(sample(metrics, 'kms_request_duration_seconds_count', { operation: 'Sign', key_spec: 'RSA_4096', outcome: 'ThrottlingException' }))
      .toBe(counts.ThrottlingException);
    expect(sample(metrics, 'kms_request_duration_seconds_count', { operation: 'Sign', key_spec: 'RSA_4096', outcome: 'ok' }))
      .toBe(counts.ok! + 1); // + the warm-up
    expect(metrics).not.toMatch(/^kms_throttled_requests_total\{/m); // KMS_QUOTAS=none: no quota classes at all
  });
});
