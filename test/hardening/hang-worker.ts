// A test stand-in for the crypto worker: the real one (same workerData, same jobs, same results), except that an
// encrypt job whose plaintext starts with HANG_PREFIX never answers, the way a deadlocked native call or a bug
// that loops would. Loaded by CryptoPool through its workerFile option (worker-hang.test.ts); runs compiled, from
// dist/test/hardening/hang-worker.js.
import type { BatchResult, Job } from '../../src/contract/tasks.js';
import runRealBatch from '../../workers/crypto.worker.js';
import { HANG_PREFIX, type HangMode } from './hang-marker.js';

function hangModeOf(job: Job): HangMode | undefined {
  if (job.op !== 'encrypt') return undefined;
  const text = Buffer.from(job.plaintext).toString('latin1');
  return text.startsWith(HANG_PREFIX) ? text.slice(HANG_PREFIX.length) as HangMode : undefined;
}

export default function runBatch(jobs: Job[]): Promise<BatchResult> {
  for (const job of jobs) {
    const mode = hangModeOf(job);
    if (mode === 'never') return new Promise(() => {});
    if (mode === 'spin') for (;;) { /* holds the thread until it is terminated */ }
  }
  return runRealBatch(jobs);
}
