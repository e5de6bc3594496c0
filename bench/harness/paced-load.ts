// The open loop with evenly spaced arrivals: request k is due at start + k/rate, whatever happened to the ones
// before it, on a keep-alive pool of at most `connections` connections (http1-connection.ts). A request due
// while every connection is busy waits for one, and that wait is part of its latency (measured from the moment
// it is handed to the client), so a server that falls behind is charged for its queue. How late the generator
// itself issued each request is recorded apart (the report's "send lag"): when that is small, the latencies
// are the server's.
//
// The clock starts on warm connections: every connection is opened and carries one request of the workload
// (a lead-in, not recorded) before the first measured request is due. Otherwise each measured segment began
// with `connections` handshakes and the server setting up as many sockets while the schedule already ran, and
// that first second set the p99 of the whole segment (engine alone at 5,400 Encrypt req/s: 16.6 ms in the first
// second, 2.8-8.7 ms in the others; bench/README.md). A pipeline at a steady rate runs on connections it opened
// long before.
//
// autocannon's overallRate is not used for this: it lets every connection send its per-second budget back to
// back at the start of each second, i.e. closed-loop bursts, which inflates the p99 of any server (README).
import { performance } from 'node:perf_hooks';
import { onStop } from './on-stop.js';
import { Http1Connection, serializeRequest, type Http1Response } from './http1-connection.js';
import { transportCauseOf, type LoadRecorder } from './recorder.js';
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

interface Job {
  wire: WireRequest;
  chain: ChainContext;
  /** When it was handed to the client (ms, performance.now()). Lead-ins never become jobs: they are sent on
   * their connection before the clock starts. */
  began: number;
}

/** How often requests in flight are checked against the timeout. */
const TIMEOUT_SWEEP_MS = 100;

/** `stop` (Ctrl-C) ends the schedule: no more requests are issued, those in flight are waited for. */
export async function runPacedLoad(spec: PacedSpec, source: RequestSource, recorder: LoadRecorder,
  stop?: AbortSignal): Promise<void> {
  const endpoint = new URL(spec.target.endpoint);
  const timeoutMs = spec.timeoutSeconds * 1000;
  let total = Math.max(1, Math.round(spec.rate * spec.durationSeconds));
  // A pre-signed request is sent many times: its bytes are built once (the pools re-sign with new objects).
  const serialized = new WeakMap<WireRequest, Buffer>();
  const bytesOf = (wire: WireRequest): Buffer => {
    let bytes = serialized.get(wire);
    if (bytes === undefined) serialized.set(wire, bytes = serializeRequest(wire));
    return bytes;
  };
  // Idle connections in FIFO order, so the load rotates over all of them (and a cluster's processes all get
  // their share); requests waiting for one; the connection each request in flight is on.
  const idle: Http1Connection[] = [];
  const queued: Job[] = [];
  const busy = new Map<Http1Connection, Job>();
  let opened = 0; // open or opening
  let sent = 0;
  let settled = 0;
  let onAllSettled: () => void = () => {};

  const finished = (): void => {
    settled++;
    if (settled === total) onAllSettled();
  };

  const answered = (job: Job, response: Http1Response): void => {
    source.onResponse(job.chain, response.status, response.body);
    recorder.recordLatency(performance.now() - job.began);
    const next = source.followUp(job.chain);
    if (next) dispatch({ wire: next, chain: job.chain, began: performance.now() });
    else finished();
  };

  const failed = (job: Job, error: Error): void => {
    recorder.recordTransportError(error.message === 'request timed out', transportCauseOf(error), job.chain.operation);
    finished();
  };

  const run = (connection: Http1Connection, job: Job): void => {
    busy.set(connection, job);
    connection.send(bytesOf(job.wire), (error, response) => {
      busy.delete(connection);
      if (connection.isOpen) release(connection);
      else {
        opened--;
        if (queued.length > 0) connect();
      }
      if (error) failed(job, error);
      else answered(job, response!);
    });
  };

  const release = (connection: Http1Connection): void => {
    const job = queued.shift();
    if (job) run(connection, job);
    else idle.push(connection);
  };

  const connect = (): void => {
    if (opened >= spec.connections) return;
    opened++;
    Http1Connection.open(endpoint, timeoutMs).then(release, (error: Error) => {
      opened--;
      // Nothing to send on: the oldest waiting request fails, so a dead endpoint ends the run with errors.
      const oldest = queued.shift();
      if (oldest) failed(oldest, error);
      if (queued.length > 0) setTimeout(connect, 10);
    });
  };

  const dispatch = (job: Job): void => {
    let connection = idle.shift();
    while (connection && !connection.isOpen) {
      opened--; // closed by the server while idle
      connection = idle.shift();
    }
    if (connection) run(connection, job);
    else {
      queued.push(job);
      connect();
    }
  };

  // Warm connections before the clock starts (see the top of this file).
  const warm = await Promise.allSettled(Array.from({ length: spec.connections }, async () => {
    const connection = await Http1Connection.open(endpoint, timeoutMs);
    const timer = setTimeout(() => connection.destroy(new Error('request timed out')), timeoutMs);
    await new Promise<void>((resolve) => connection.send(bytesOf(source.first({})), () => resolve()));
    clearTimeout(timer);
    return connection;
  }));
  for (const outcome of warm) {
    if (outcome.status === 'fulfilled' && outcome.value.isOpen) {
      opened++;
      idle.push(outcome.value);
    }
  }

  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [connection, job] of busy) {
      if (now - job.began > timeoutMs) connection.destroy(new Error('request timed out'));
    }
  }, Math.min(TIMEOUT_SWEEP_MS, timeoutMs));
  recorder.startClock();
  const start = performance.now();
  let unsubscribe = (): void => {};
  try {
    await new Promise<void>((resolve) => {
      onAllSettled = resolve;
      const stopSchedule = (): void => {
        total = sent;
        if (settled === total) resolve();
      };
      unsubscribe = onStop(stop, stopSchedule);
      const tick = (): void => {
        const elapsed = performance.now() - start;
        const due = dueBy(elapsed, spec.rate, total);
        while (sent < due) {
          recorder.recordSendLag((elapsed - dueAtMs(sent, spec.rate)) * 1000);
          sent++;
          const chain: ChainContext = {};
          dispatch({ wire: source.first(chain), chain, began: performance.now() });
        }
        if (sent < total) setTimeout(tick, Math.max(0, dueAtMs(sent, spec.rate) - (performance.now() - start)));
      };
      tick();
    });
    // The last request is due (total - 1)/rate seconds in: answered quickly, the run would end short of its
    // total/rate seconds and report more than the rate offered (51.8 req/s for --rate 50 in 1-second rounds).
    // It lasts its whole schedule instead, longer only when answers come late.
    const untilScheduleEnd = dueAtMs(total, spec.rate) - (performance.now() - start);
    if (untilScheduleEnd > 0 && !stop?.aborted) await new Promise((resolve) => setTimeout(resolve, untilScheduleEnd));
  } finally {
    unsubscribe();
    clearInterval(sweep);
    for (const connection of [...idle, ...busy.keys()]) connection.destroy();
  }
}
