// Piscina entry: one pool task = one batch of jobs. The root key is loaded here, in the worker, once; the
// main thread only ever holds wrapped material. Evictions arrive on a broadcast channel.
import { BroadcastChannel, workerData } from 'node:worker_threads';
import { KEY_CACHE_CHANNEL, type BatchResult, type EvictMessage, type Job } from '../src/contract/tasks.js';
import { JobRunner } from './handlers.js';
import { FileRootKey } from './root-key.js';

interface WorkerOptions {
  rootKeyFile: string;
  cacheEntries: number;
  cacheTtlMs: number;
}

const options = workerData as WorkerOptions;
const runner = new JobRunner(FileRootKey.fromFile(options.rootKeyFile), options.cacheEntries, options.cacheTtlMs);

const evictions = new BroadcastChannel(KEY_CACHE_CHANNEL);
evictions.onmessage = (event) => runner.cache.evictKeys((event as unknown as { data: EvictMessage }).data.evict);
// The channel must not keep an idle worker alive on its own.
(evictions as unknown as { unref(): void }).unref();

export default function runBatch(jobs: Job[]): Promise<BatchResult> {
  return runner.runBatch(jobs);
}
