// The closed loop (autocannon, bench/harness/load.ts) against a loopback server that ends connections the way
// real endpoints do: a `Connection: close` answer now and then, and a TCP reset instead of an answer. Each
// connection carries one request at a time, so however fast the machine, the latencies the run reports can add up
// to at most connections x elapsed time (Little's law); a latency counted from the wrong, older request breaks that.
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/harness/load.js';
import { latencySummary } from '../../bench/harness/recorder.js';
import { ENCRYPT_WORKLOAD, LoopbackEndpoint, TEST_CREDENTIALS } from './loopback-endpoint.js';

const loopback = new LoopbackEndpoint();
afterEach(() => loopback.close());

/** Answers `{}`, closing the connection after every 10th answer on it and resetting every 13th request. */
async function serveWithDroppedConnections(seen: { answered: number; reset: number }): Promise<string> {
  const answeredOn = new WeakMap<object, number>();
  let requests = 0;
  return loopback.listen((req, res) => {
    req.resume().on('end', () => {
      if (++requests % 13 === 0) {
        seen.reset++;
        req.socket.resetAndDestroy();
        return;
      }
      const onSocket = (answeredOn.get(req.socket) ?? 0) + 1;
      answeredOn.set(req.socket, onSocket);
      seen.answered++;
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', ...(onSocket % 10 === 0 ? { connection: 'close' } : {}) });
      res.end('{}');
    });
  });
}

describe('the closed loop', () => {
  it('ends when a fractional --duration is over, not at the next whole second', async () => {
    const seen = { answered: 0, reset: 0 };
    const result = await runLoad({
      target: { endpoint: await serveWithDroppedConnections(seen), region: 'us-east-1', credentials: TEST_CREDENTIALS },
      workload: ENCRYPT_WORKLOAD, connections: 2, durationSeconds: 0.3, timeoutSeconds: 10,
    });
    expect(result.responses).toBeGreaterThan(0);
    // autocannon's default once-a-second check ran this for a whole second.
    expect(result.elapsedMs).toBeLessThan(800);
  });

  it('times each response from its own request when the server resets or closes connections', async () => {
    const seen = { answered: 0, reset: 0 };
    const connections = 4;
    const result = await runLoad({
      target: { endpoint: await serveWithDroppedConnections(seen), region: 'us-east-1', credentials: TEST_CREDENTIALS },
      workload: ENCRYPT_WORKLOAD, connections, durationSeconds: 1, timeoutSeconds: 10,
    });
    expect(result.responses).toBeGreaterThan(100);
    expect(result.ok).toBe(result.responses);
    // Resets are transport errors (a few may still be in flight when the time is up).
    expect(result.transportErrors).toBeLessThanOrEqual(seen.reset);
    expect(result.transportErrors).toBeGreaterThanOrEqual(seen.reset - connections);
    expect(result.responses).toBeLessThanOrEqual(seen.answered);
    // At most `connections` requests in flight at any time: their latencies sum to at most connections x elapsed.
    const { mean } = latencySummary(result.latency);
    expect(mean * result.responses).toBeLessThanOrEqual(connections * result.elapsedMs * 1.02);
  });

  // Each connection replaces one that got no answer after a back-off (10 ms doubling to 500 ms): over the second
  // these runs last, some 8 tries per connection. autocannon alone retried at once, thousands of times a second.
  const connections = 4;
  const fewTries = 25 * connections;

  it('counts an endpoint that goes away mid-run as refused connections, retried with a back-off', async () => {
    let answered = 0;
    const endpoint = await loopback.listen((req, res) => {
      req.resume().on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end('{}');
        // The endpoint dies: its connections dropped, its port closed.
        if (++answered === 50) void loopback.close();
      });
    });
    const result = await runLoad({ target: { endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS },
      workload: ENCRYPT_WORKLOAD, connections, durationSeconds: 1, timeoutSeconds: 10 });
    expect(result.ok).toBeGreaterThanOrEqual(40);
    expect(result.ok).toBeLessThanOrEqual(50);
    expect(result.transportErrorCauses.ECONNREFUSED).toBeGreaterThanOrEqual(connections);
    expect(result.transportErrors).toBeLessThan(fewTries);
    expect(result.elapsedMs).toBeLessThan(2000);
  });

  it('counts connections closed before any answer as transport errors, retried with a back-off', async () => {
    // A proxy whose upstream is gone: it takes the connection and the request, then closes without a word.
    const endpoint = await loopback.listen((req) => { req.resume().on('end', () => req.socket.end()); });
    const result = await runLoad({ target: { endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS },
      workload: ENCRYPT_WORKLOAD, connections, durationSeconds: 1, timeoutSeconds: 10 });
    expect(result.responses).toBe(0);
    expect(result.transportErrorCauses['closed before any answer']).toBeGreaterThanOrEqual(connections);
    expect(result.transportErrors).toBeLessThan(fewTries);
  });
});
