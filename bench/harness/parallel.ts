// Runs a load across N generators: in this process for one, in worker threads for more (each signs and sends
// its share of the connections and rate). Results merge exactly: counts add, HDR histograms add.
import { Worker } from 'node:worker_threads';
import { runLoad, type LoadProgress, type LoadSpec } from './load.js';
import { mergeConcurrent, type LoadResult } from './recorder.js';
import { onStop } from './on-stop.js';

/** Sent to a load worker: end the load now and post what was measured. */
export const STOP = 'stop';

export type WorkerMessage =
  | { type: 'progress'; progress: LoadProgress }
  | { type: 'done'; result: LoadResult }
  | { type: 'failed'; message: string };

/** `total` split into `parts` near-equal integers (the first ones get the remainder). */
export const splitEvenly = (total: number, parts: number): number[] =>
  Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

export async function runLoadOnWorkers(spec: LoadSpec, workers: number,
  onProgress?: (progress: LoadProgress) => void, stop?: AbortSignal): Promise<LoadResult> {
  // Every generator needs a connection and, under --rate, a request per second: more threads than that would get
  // a share of zero and be left out, and their share of the rate with them (--workers 2 --connections 1 --rate 20
  // offered 10 req/s).
  const generators = Math.min(workers, spec.connections, spec.rate ?? Infinity);
  if (generators <= 1) return runLoad(spec, onProgress, stop);
  const connections = splitEvenly(spec.connections, generators);
  const rates = spec.rate ? splitEvenly(spec.rate, generators) : undefined;
  const latest: LoadProgress[] = [];
  const report = (): void => {
    if (!onProgress) return;
    onProgress(latest.reduce((sum, p) => ({
      elapsedMs: Math.max(sum.elapsedMs, p.elapsedMs), responses: sum.responses + p.responses, ok: sum.ok + p.ok,
      non2xx: sum.non2xx + p.non2xx, transportErrors: sum.transportErrors + p.transportErrors,
    }), { elapsedMs: 0, responses: 0, ok: 0, non2xx: 0, transportErrors: 0 }));
  };
  const shares = connections.map((share, index) => ({ ...spec, connections: share, rate: rates?.[index] }));
  // Progress from the first worker paces the line; the others only update their slot.
  const results = await Promise.all(shares.map((share, index) => new Promise<LoadResult>((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), { workerData: share });
    const unsubscribe = onStop(stop, () => worker.postMessage(STOP));
    worker.once('exit', unsubscribe);
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') {
        latest[index] = message.progress;
        if (index === 0) report();
      } else if (message.type === 'done') resolve(message.result);
      else reject(new Error(`load worker ${index}: ${message.message}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => { if (code !== 0) reject(new Error(`load worker ${index} exited with ${code}`)); });
  })));
  return mergeConcurrent(results);
}
