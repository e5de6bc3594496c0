// The crypto worker pool, fed in batches. Jobs that arrive while every task slot is busy wait here and travel
// together in one Piscina task (up to KMS_BATCH_SIZE): a thread hop costs more than an ECDSA P-256 signature or
// a small AES-GCM encryption, so batching under load pays the hop once for many jobs; a lone job is a batch of
// one and leaves at once. Past maxQueuedJobs the pool refuses work (ThrottlingException) instead of queueing
// without bound, so memory stays flat under overload.
import { Piscina } from 'piscina';
import { THROTTLING_MESSAGE, type KmsFailure } from '../contract/errors.js';
import {
  KEY_CACHE_CHANNEL, type BatchResult, type EvictMessage, type Job, type JobInput, type JobName, type JobResult,
} from '../contract/tasks.js';
import { BroadcastChannel } from 'node:worker_threads';
import { KmsError } from '../protocol/errors.js';
import { CRYPTO_WORKER_FILE } from '../paths.js';
import type { RootKeyPlan } from '../root-key/open.js';

export interface CryptoPoolOptions {
  workers: number;
  /** Which root keys the workers open (each worker opens its own: the key never crosses threads). */
  rootKeys: RootKeyPlan;
  batchSize: number;
  maxQueuedJobs: number;
  cacheEntries?: number;
  cacheTtlMs?: number;
  /** Called once per finished pool task, for metrics. */
  onTask?: (report: TaskReport) => void;
}

export interface TaskReport {
  jobs: readonly Job[];
  waitSeconds: number; // of the oldest job in the batch
  runSeconds: number;
  cache: BatchResult['cache'];
}

interface Waiting {
  job: Job;
  enqueuedAt: number;
  resolve(result: JobResult): void;
}

/** Jobs that may run for hundreds of milliseconds (RSA generation) never share a batch with quick ones. */
const SOLO_JOBS: ReadonlySet<JobName> = new Set(['generateMaterial', 'generateDataKeyPair']);
/** Task slots per worker: one in flight leaves workers idle between tasks (ceilings.md: 4 doubled P-256). */
const TASKS_PER_WORKER = 4;

const INTERNAL: KmsFailure = { ok: false, code: 'KMSInternalException', message: 'The request failed because of an internal error.' };

export class CryptoPool {
  private readonly piscina: Piscina<Job[], BatchResult>;
  private readonly waiting: Waiting[] = [];
  private readonly maxInFlight: number;
  private readonly evictions = new BroadcastChannel(KEY_CACHE_CHANNEL);
  private inFlight = 0;

  constructor(private readonly options: CryptoPoolOptions) {
    this.piscina = new Piscina({
      filename: CRYPTO_WORKER_FILE,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: TASKS_PER_WORKER,
      // 'async' keeps an idle worker's event loop turning, so background work (RSA pair pre-generation,
      // cache evictions on the broadcast channel) progresses between tasks.
      atomics: 'async',
      workerData: {
        rootKeys: options.rootKeys,
        cacheEntries: options.cacheEntries ?? 10_000,
        cacheTtlMs: options.cacheTtlMs ?? 5 * 60_000,
      },
    });
    this.maxInFlight = options.workers * TASKS_PER_WORKER;
    (this.evictions as unknown as { unref(): void }).unref();
  }

  /** Runs one job; resolves with its result (failures are data). Throws ThrottlingException when saturated. */
  run<N extends JobName>(job: JobInput<N>): Promise<JobResult<N>> {
    if (this.waiting.length >= this.options.maxQueuedJobs) {
      throw new KmsError('ThrottlingException', THROTTLING_MESSAGE);
    }
    return new Promise<JobResult<N>>((resolve) => {
      const entry: Waiting = { job: job as Job, enqueuedAt: performance.now(), resolve: resolve as (r: JobResult) => void };
      if (SOLO_JOBS.has(job.op)) this.dispatch([entry]);
      else {
        this.waiting.push(entry);
        this.pump();
      }
    });
  }

  /** Tells every worker to drop the cached material of these keys (disabled, rotated, deleted). */
  evict(keyIds: readonly string[]): void {
    if (keyIds.length > 0) this.evictions.postMessage({ evict: [...keyIds] } satisfies EvictMessage);
  }

  stats(): { queueDepth: number; inFlight: number; workers: number; utilization: number } {
    return {
      queueDepth: this.waiting.length,
      inFlight: this.inFlight,
      workers: this.options.workers,
      utilization: this.piscina.utilization,
    };
  }

  async close(): Promise<void> {
    this.evictions.close();
    await this.piscina.destroy();
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      this.dispatch(this.waiting.splice(0, this.options.batchSize));
    }
  }

  private dispatch(batch: Waiting[]): void {
    this.inFlight++;
    const startedAt = performance.now();
    const jobs = batch.map((entry) => entry.job);
    this.piscina.run(jobs).then(
      (outcome) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(outcome.results[i] ?? INTERNAL);
        this.options.onTask?.({
          jobs,
          waitSeconds: (startedAt - batch[0]!.enqueuedAt) / 1000,
          runSeconds: (performance.now() - startedAt) / 1000,
          cache: outcome.cache,
        });
      },
      // A crashed worker fails only its own batch; Piscina replaces the thread.
      () => { for (const entry of batch) entry.resolve(INTERNAL); },
    ).finally(() => {
      this.inFlight--;
      this.pump();
    });
  }
}
