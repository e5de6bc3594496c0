// Worker-thread entry of `--workers N`: runs one share of the load and posts progress and the result.
import { parentPort, workerData } from 'node:worker_threads';
import { runLoad, type LoadSpec } from './load.js';
import { STOP, type WorkerMessage } from './parallel.js';

const post = (message: WorkerMessage): void => parentPort!.postMessage(message);

const stop = new AbortController();
parentPort!.on('message', (message: unknown) => { if (message === STOP) stop.abort(); });
// Listening must not keep the thread alive once its load is done.
parentPort!.unref();

runLoad(workerData as LoadSpec, (progress) => post({ type: 'progress', progress }), stop.signal)
  .then((result) => post({ type: 'done', result }))
  .catch((error: unknown) => post({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));
