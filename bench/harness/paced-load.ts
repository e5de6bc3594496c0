// The open loop with evenly spaced arrivals: request k is due at start + k/rate, whatever happened to the ones
// before it, on a keep-alive pool of at most `connections` sockets. A request due while every socket is busy
// waits for one, and that wait is part of its latency (measured from the moment it is handed to the client), so
// a server that falls behind is charged for its queue. How late the generator itself issued each request is
// recorded apart (the report's "send lag"): when that is small, the latencies are the server's.
//
// autocannon's overallRate is not used for this: it lets every connection send its per-second budget back to
// back at the start of each second, i.e. closed-loop bursts, which inflates the p99 of any server (README).
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { LoadRecorder } from './recorder.js';
import type { ChainContext, RequestSource } from './request-source.js';
import type { SigningTarget, WireRequest } from './signer.js';

export interface PacedSpec {
  target: SigningTarget;
  connections: number;
  rate: number;
  durationSeconds: number;
  timeoutSeconds: number;
}

/** When request `index` is due, in ms after the start: evenly spaced at `rate` per second. */
export const dueAtMs = (index: number, rate: number): number => (index * 1000) / rate;

/** How many requests are due by `elapsedMs` (the one due at exactly 0 included), capped at `total`. */
export const dueBy = (elapsedMs: number, rate: number, total: number): number =>
  Math.min(total, Math.floor((elapsedMs * rate) / 1000) + 1);

export function runPacedLoad(spec: PacedSpec, source: RequestSource, recorder: LoadRecorder): Promise<void> {
  const url = new URL(spec.target.endpoint);
  const secure = url.protocol === 'https:';
  // FIFO reuse rotates over every open socket, so a cluster server's processes all get their share.
  const agent = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: spec.connections, scheduling: 'fifo' });
  const request = secure ? https.request : http.request;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port || (secure ? 443 : 80);
  const total = Math.max(1, Math.round(spec.rate * spec.durationSeconds));
  let sent = 0;
  let inFlight = 0;
  const start = performance.now();

  return new Promise<void>((resolve) => {
    let finished = false;
    const finishIfDone = (): void => {
      if (finished || sent < total || inFlight > 0) return;
      finished = true;
      agent.destroy();
      resolve();
    };

    const send = (wire: WireRequest, chain: ChainContext): void => {
      inFlight++;
      const began = performance.now();
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        inFlight--;
        return true;
      };
      const failed = (error: Error): void => {
        if (!settle()) return;
        recorder.recordTransportError(error.message === 'request timed out');
        finishIfDone();
      };
      const outgoing = request({ agent, hostname, port, method: wire.method, path: wire.path, headers: wire.headers,
        timeout: spec.timeoutSeconds * 1000 }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', failed);
        response.on('end', () => {
          if (!settle()) return;
          source.onResponse(chain, response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
          recorder.recordLatency(performance.now() - began);
          const next = source.followUp(chain);
          if (next) send(next, chain);
          finishIfDone();
        });
      });
      outgoing.on('timeout', () => outgoing.destroy(new Error('request timed out')));
      outgoing.on('error', failed);
      outgoing.end(wire.body);
    };

    const tick = (): void => {
      const elapsed = performance.now() - start;
      const due = dueBy(elapsed, spec.rate, total);
      while (sent < due) {
        recorder.recordSendLag((elapsed - dueAtMs(sent, spec.rate)) * 1000);
        sent++;
        const chain: ChainContext = {};
        send(source.first(chain), chain);
      }
      if (sent < total) setTimeout(tick, Math.max(0, dueAtMs(sent, spec.rate) - (performance.now() - start)));
      else finishIfDone();
    };
    tick();
  });
}
