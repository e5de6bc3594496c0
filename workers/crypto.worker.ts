// Piscina entry: one pool task = one batch of jobs. The root key is opened here, in the worker, once (a file's
// bytes, or a session on the PKCS#11 token that holds it); the main thread only ever holds wrapped material.
// Evictions arrive on a broadcast channel.
import { BroadcastChannel, workerData } from 'node:worker_threads';
import {
  KEY_CACHE_CHANNEL, type BatchResult, type EvictMessage, type Job,
} from '../src/contract/tasks.js';
import { JobRunner } from './handlers.js';
import { announceLoadFailure, announceLoaded } from './loaded.js';
import { rsaKeyPairPool } from './primitives/rsa-pool.js';
import { openRootKeyRing, type RootKeyPlan } from '../src/root-key/open.js';

interface WorkerOptions {
  rootKeys: RootKeyPlan;
  cacheEntries: number;
  cacheTtlMs: number;
}

const options = workerData as WorkerOptions;

function openRootKeys() {
  try {
    return openRootKeyRing(options.rootKeys);
  } catch (error) {
    announceLoadFailure(error);
    throw error;
  }
}
const runner = new JobRunner(openRootKeys(), options.cacheEntries, options.cacheTtlMs);
// RSA pairs are generated ahead of time (KMS_RSA_POOL), so the first RSA CreateKey need not wait for one.
rsaKeyPairPool().warm();

const evictions = new BroadcastChannel(KEY_CACHE_CHANNEL);
evictions.onmessage = (event) => runner.cache.evictKeys((event as unknown as { data: EvictMessage }).data.evict);
// The channel must not keep an idle worker alive on its own.
(evictions as unknown as { unref(): void }).unref();

announceLoaded();

export default function runBatch(jobs: Job[]): Promise<BatchResult> {
  return runner.runBatch(jobs);
}
