// A worker's last act of loading: it tells the pool which thread has finished loading its module graph. From
// then on CryptoPool.close may terminate the thread (terminating one mid-load aborts the process on Node 20).
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { WORKER_READY_CHANNEL } from '../src/contract/tasks.js';

export function announceLoaded(): void {
  const ready = new BroadcastChannel(WORKER_READY_CHANNEL);
  ready.postMessage(threadId);
  ready.close();
}
