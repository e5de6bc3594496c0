// A test stand-in for the crypto worker: the real one (same workerData, same jobs, same results), except that an
// encrypt job whose plaintext starts with CRASH_PREFIX takes the whole worker thread down, the way a native
// crash or a fatal bug would. Loaded by CryptoPool through its workerFile option (worker-crash.test.ts); runs
// compiled, from dist/test/hardening/crash-worker.js.
import type { BatchResult, Job } from '../../src/contract/tasks.js';
import runRealBatch from '../../workers/crypto.worker.js';
import { CRASH_PREFIX, type CrashMode } from './crash-marker.js';

function crashModeOf(job: Job): CrashMode | undefined {
  if (job.op !== 'encrypt') return undefined;
  const text = Buffer.from(job.plaintext).toString('latin1');
  return text.startsWith(CRASH_PREFIX) ? text.slice(CRASH_PREFIX.length) as CrashMode : undefined;
}

export default function runBatch(jobs: Job[]): Promise<BatchResult> {
  for (const job of jobs) {
    const mode = crashModeOf(job);
    if (mode === 'exit') process.exit(70);
    if (mode === 'throw') {
      setImmediate(() => { throw new Error('worker crashed on purpose'); });
      return new Promise(() => {}); // never answers: the thread dies first
    }
  }
  return runRealBatch(jobs);
}
