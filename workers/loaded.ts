// A worker's last act of loading: it tells the pool which thread has finished loading its module graph. From
// then on CryptoPool.close may terminate the thread (terminating one mid-load aborts the process on Node 20).
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { WORKER_READY_CHANNEL } from '../src/contract/tasks.js';

export function announceLoaded(): void {
  const ready = new BroadcastChannel(WORKER_READY_CHANNEL);
  ready.postMessage(threadId);
  ready.close();
}

/** A worker that cannot load (its root key will not open) says so before it throws: see CryptoPool.whenLoaded. */
export interface LoadFailure { failedThread: number; message: string }

/**
 * Piscina reports a worker that throws while loading as an 'error' event only when it held no task; with a task
 * the task gets the error instead, and Piscina starts no replacement. The pool learns of the failure here either way.
 */
export function announceLoadFailure(error: unknown): void {
  const channel = new BroadcastChannel(WORKER_READY_CHANNEL);
  channel.postMessage({ failedThread: threadId, message: error instanceof Error ? error.message : String(error) } satisfies LoadFailure);
  channel.close();
}
