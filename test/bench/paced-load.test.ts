// The paced open loop (bench/harness/paced-load.ts) against small loopback servers that misbehave: the clock
// starts on warm connections, a server that closes every connection still gets every request, requests it never
// answers time out as transport errors, and a dead endpoint ends the run with errors rather than a hang.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/harness/load.js';
import { ENCRYPT_WORKLOAD, LoopbackEndpoint, TEST_CREDENTIALS } from './loopback-endpoint.js';

const loopback = new LoopbackEndpoint();
afterEach(() => loopback.close());

/** How long a 'late' answer waits. */
const LATE_MS = 1500;

/** A server answering `{}` (or leaving the request unanswered when `answer` says so); returns its URL. */
async function serve(answer: (index: number) => 'answer' | 'close' | 'ignore' | 'late', seen: Array<{ at: number; socket: Socket }>): Promise<string> {
  return loopback.listen((req, res) => {
    req.resume().on('end', () => {
      const index = seen.push({ at: performance.now(), socket: req.socket }) - 1;
      const how = answer(index);
      if (how === 'ignore') return;
      if (how === 'late') {
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end('{}'), LATE_MS);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', ...(how === 'close' ? { connection: 'close' } : {}) });
      res.end('{}');
    });
  });
}

const paced = (endpoint: string, rate: number, connections: number, timeoutSeconds = 10) => runLoad({
  target: { endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS }, workload: ENCRYPT_WORKLOAD, connections, rate,
  arrivals: 'even', durationSeconds: 1, timeoutSeconds,
});

describe('the paced open loop', () => {
  it('starts its clock once every connection is open and has carried one request, which it does not count', async () => {
    const seen: Array<{ at: number; socket: Socket }> = [];
    const result = await paced(await serve(() => 'answer', seen), 100, 4);
    expect(result).toMatchObject({ responses: 100, ok: 100, non2xx: 0, transportErrors: 0 });
    expect(seen).toHaveLength(104);
    // The lead-ins: one per connection, each on its own socket, all before the first measured request.
    const leadIns = seen.slice(0, 4);
    expect(new Set(leadIns.map((s) => s.socket)).size).toBe(4);
    // Measured requests rotate over those same warm connections.
    expect(new Set(seen.map((s) => s.socket)).size).toBe(4);
  });

  it('measures its time and its per-second series from the start of the schedule, not from the lead-ins', async () => {
    const seen: Array<{ at: number; socket: Socket }> = [];
    // The 4 lead-ins are answered late; the 20 measured requests (1 s at 20 req/s) at once.
    const result = await paced(await serve((index) => (index < 4 ? 'late' : 'answer'), seen), 20, 4);
    expect(result).toMatchObject({ responses: 20, ok: 20, transportErrors: 0 });
    // The schedule lasts 0.95 s: the lead-ins' wait is not part of the measured time.
    expect(result.elapsedMs).toBeLessThan(LATE_MS);
    expect(result.series[0]!.second).toBe(0);
    expect(result.series.reduce((sum, sample) => sum + sample.responses, 0)).toBe(20);
  });

  it('lasts its whole schedule, so the rate it reports is the rate it offered', async () => {
    // 10 req/s for 1 s: the last request is due at 0.9 s and answered at once; the run still measures 1 s.
    const result = await paced(await serve(() => 'answer', []), 10, 2);
    expect(result).toMatchObject({ responses: 10, ok: 10 });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(990);
  });

  it('opens new connections when the server closes each one after answering, and loses no request', async () => {
    const seen: Array<{ at: number; socket: Socket }> = [];
    const result = await paced(await serve(() => 'close', seen), 100, 4);
    expect(result).toMatchObject({ responses: 100, ok: 100, transportErrors: 0 });
    expect(new Set(seen.map((s) => s.socket)).size).toBe(104);
  });

  it('counts requests the server never answers as timed-out transport errors, and still ends', async () => {
    const seen: Array<{ at: number; socket: Socket }> = [];
    // After the 4 lead-ins, the 11th to 15th measured requests are left hanging.
    const result = await paced(await serve((index) => (index >= 14 && index < 19 ? 'ignore' : 'answer'), seen), 50, 4, 1);
    expect(result).toMatchObject({ responses: 45, ok: 45, transportErrors: 5, timeouts: 5 });
  });

  it('fails every request of a run against a dead endpoint as a transport error, without hanging', async () => {
    const endpoint = await serve(() => 'answer', []);
    await loopback.close();
    const result = await paced(endpoint, 50, 4);
    expect(result).toMatchObject({ responses: 0, ok: 0, transportErrors: 50, timeouts: 0 });
  });
});
