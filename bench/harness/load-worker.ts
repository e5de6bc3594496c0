// Worker-thread entry of `--workers N`: runs one share of the load and posts progress and the result.
import { parentPort, workerData } from 'node:worker_threads';
import { runLoad, type LoadSpec } from './load.js';
import type { WorkerMessage } from './parallel.js';

const post = (message: WorkerMessage): void => parentPort!.postMessage(message);

runLoad(workerData as LoadSpec, (progress) => post({ type: 'progress', progress }))
  .then((result) => post({ type: 'done', result }))
  .catch((error: unknown) => post({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));
