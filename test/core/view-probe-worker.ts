// A test stand-in for the crypto worker: answers each job with the size of the ArrayBuffer behind every byte
// array it received, so a test can see what a job cost to clone on its way over. Runs compiled, from
// dist/test/core/view-probe-worker.js.
import type { BatchResult, Job } from '../../src/contract/tasks.js';
import { announceLoaded } from '../../workers/loaded.js';

function backings(value: unknown, out: number[] = []): number[] {
  if (value instanceof Uint8Array) out.push(value.buffer.byteLength);
  else if (value !== null && typeof value === 'object') for (const member of Object.values(value)) backings(member, out);
  return out;
}

announceLoaded();

export default function probe(jobs: Job[]): BatchResult {
  return {
    results: jobs.map((job) => ({ ok: true, backings: backings(job) }) as unknown as BatchResult['results'][number]),
    cache: { hits: 0, misses: 0, evictions: 0 },
  };
}
