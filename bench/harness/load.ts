// One load generator: pre-signed requests counted into a LoadRecorder. Closed loop (a fixed number of
// connections, each sending its next request when the last one answered) and autocannon's overallRate run on
// autocannon; a fixed arrival rate with evenly spaced arrivals runs on the paced loader (paced-load.ts). Runs
// in the harness process, or once per worker thread when one process cannot sign and send fast enough.
import type { Socket } from 'node:net';
import autocannon from 'autocannon';
import { onStop } from './on-stop.js';
import { runPacedLoad } from './paced-load.js';
import { LoadRecorder, transportCauseOf, type LoadResult } from './recorder.js';
import { RequestSource, type ChainContext } from './request-source.js';
import { RequestSigner, type SigningTarget, type WireRequest } from './signer.js';
import type { Workload } from './scenarios.js';

/**
 * How requests arrive under a fixed rate. `even`: one every 1/rate seconds (paced-load.ts). `autocannon`:
 * autocannon's overallRate, which lets each connection send its per-second budget back to back at the start of
 * every second, so the "open loop" is a burst of closed-loop load followed by silence.
 */
export type Arrivals = 'even' | 'autocannon';

export interface LoadSpec {
  target: SigningTarget;
  workload: Workload;
  connections: number;
  /** Fixed arrival rate over all connections (open loop); closed loop when absent. */
  rate?: number;
  /** How a fixed rate is delivered (default `even`). */
  arrivals?: Arrivals;
  durationSeconds: number;
  timeoutSeconds: number;
}

export interface LoadProgress {
  elapsedMs: number;
  responses: number;
  ok: number;
  non2xx: number;
  transportErrors: number;
}

/** `stop` ends the load early (Ctrl-C): what was measured until then is the result. */
export async function runLoad(spec: LoadSpec, onProgress?: (progress: LoadProgress) => void,
  stop?: AbortSignal): Promise<LoadResult> {
  const recorder = new LoadRecorder();
  const signer = new RequestSigner(spec.target, (micros) => recorder.recordSigning(micros));
  const source = new RequestSource(spec.workload, signer, recorder);
  const stopSigning = source.keepSigned();
  const progress = onProgress ? setInterval(() => onProgress(recorder.progress()), 1000) : undefined;
  try {
    if (spec.rate && (spec.arrivals ?? 'even') === 'even') {
      await runPacedLoad({ ...spec, rate: spec.rate }, source, recorder, stop);
    } else {
      await runAutocannon(spec, source, recorder, stop);
    }
  } finally {
    stopSigning();
    if (progress) clearInterval(progress);
  }
  return recorder.result();
}

/**
 * Back-off before replacing a connection that got no answer: doubling from the first, jittered, at most the max,
 * which stays under the shortest --timeout (1 s) so autocannon's request timer never fires on a waiting client.
 */
const RECONNECT_FIRST_MS = 10;
const RECONNECT_MAX_MS = 500;

/** How often autocannon checks whether the duration is over (its sampleInt; its own samples go unused). */
const STOP_CHECK_MS = 50;

function runAutocannon(spec: LoadSpec, source: RequestSource, recorder: LoadRecorder, stop?: AbortSignal): Promise<void> {
  const asRequest = (request: autocannon.Request, wire: WireRequest): autocannon.Request =>
    ({ ...request, method: wire.method, path: wire.path, headers: wire.headers, body: wire.body });
  const firstStep = (request: autocannon.Request, context: object): autocannon.Request =>
    asRequest(request, source.first(context as ChainContext));
  // Returning null sends autocannon back to the first step.
  const followUpStep = (request: autocannon.Request, context: object): autocannon.Request => {
    const wire = source.followUp(context as ChainContext);
    return wire ? asRequest(request, wire) : null as unknown as autocannon.Request;
  };
  const onResponse = (status: number, body: string, context: object): void =>
    source.onResponse(context as ChainContext, status, body);

  // autocannon 9 reconnects after a connection error (a reset, a refused reconnect) or after the server closed the
  // connection, but keeps the request that was in flight on the old connection in its queue of pending requests.
  // Every later response on that client is then matched to the request before it, and its latency is counted
  // from that older request's start: one reset inflated every following latency of its connection by the age of
  // the stale entry, growing with each reset (p50 20 ms at 1,800 req/s on 4 connections). The lost request has
  // been counted already (a connection error is a transport error) or never reached the server (written after a
  // `Connection: close` answer), so it is dropped before each reconnect.
  //
  // And autocannon reconnects at once, every time: against an endpoint that went away mid-run each connection
  // retried in a tight loop (thousands of refused connections a second, a whole core), and one that accepted and
  // closed without answering (a proxy whose upstream died) was retried just as fast without a single error
  // counted. So a connection that got no answer at all is replaced after a back-off (RECONNECT_*_MS), each
  // refused or unanswered attempt is one transport error, and the first answer resets the back-off.
  const reconnectWithBackoff = (client: autocannon.Client): void => {
    const internal = client as unknown as { _connect: () => void; pipelinedRequests: { clear: () => void };
      conn: Socket; destroyed: boolean; on: (event: string, listener: (error: Error) => void) => void };
    const connect = internal._connect;
    let answered = true; // whether the current connection got an answer; the first connect waits for nothing
    let errored = false; // whether it failed with a socket error (counted as a transport error on connError)
    let failures = 0;
    let pending: NodeJS.Timeout | undefined;
    // The request in flight: the operation its transport error counts against.
    const operation = (): string | undefined =>
      (client as unknown as { requestIterator: { context: ChainContext } }).requestIterator.context.operation;
    internal.on('response', () => { answered = true; failures = 0; });
    internal.on('connError', (error: Error) => {
      errored = true;
      recorder.recordTransportError(false, transportCauseOf(error), operation());
    });
    internal.on('timeout', () => recorder.recordTransportError(true, 'timeout', operation()));
    internal.on('done', () => clearTimeout(pending));
    const open = (self: typeof internal): void => {
      answered = false;
      errored = false;
      connect.call(self);
    };
    internal._connect = function reconnect(this: typeof internal): void {
      this.pipelinedRequests.clear();
      if (pending !== undefined) return; // a replacement is already on its way (a timeout raced an error)
      if (answered) {
        failures = 0;
        open(this);
        return;
      }
      // Closed by the server before any answer: the request it carried got none, a transport error.
      if (!errored && this.conn.readableEnded) {
        recorder.recordTransportError(false, 'closed before any answer', operation());
      }
      failures++;
      // The old connection is done; silence it so a write autocannon makes meanwhile (--arrivals autocannon
      // resumes paused clients on a timer) fails quietly instead of reconnecting again.
      this.conn.removeAllListeners('error');
      this.conn.removeAllListeners('end');
      this.conn.on('error', () => {});
      this.conn.destroy();
      const backoff = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** (failures - 1));
      pending = setTimeout(() => {
        pending = undefined;
        if (!this.destroyed) open(this);
      }, backoff / 2 + Math.random() * (backoff / 2));
    };
  };

  const requests: autocannon.Request[] = [{ setupRequest: firstStep, onResponse }];
  if (source.chained) requests.push({ setupRequest: followUpStep, onResponse });
  return new Promise<void>((resolve, reject) => {
    const instance = autocannon({
      url: spec.target.endpoint, connections: spec.connections, duration: spec.durationSeconds,
      timeout: spec.timeoutSeconds, requests, method: 'POST', setupClient: reconnectWithBackoff,
      // autocannon ends a run at the first sample tick after the duration: at the default tick of a second,
      // --duration 0.5 ran 1 s, and compare rounds of 2.5 s ran 3 s.
      sampleInt: STOP_CHECK_MS,
      ...(spec.rate ? { overallRate: spec.rate } : {}),
    }, (error) => {
      unsubscribe();
      if (error) reject(error);
      else resolve();
    });
    instance.on('response', (_client, _status, _bytes, milliseconds) => recorder.recordLatency(milliseconds));
    const unsubscribe = onStop(stop, () => instance.stop());
  });
}
