// The crypto worker pool, fed in batches. Jobs are collected until the current callback's promise jobs have
// run (after-promise-jobs.ts) and leave together, in Piscina tasks of up to KMS_BATCH_SIZE jobs; jobs that
// arrive while every task slot is busy wait and leave with the next free slot. A thread hop (postMessage,
// clone, wake-up) costs more than an ECDSA P-256 signature or a small AES-GCM encryption, so under load one hop
// carries many jobs; a lone job is a batch of one and waits for nothing else. Past maxQueuedJobs the pool
// refuses work (ThrottlingException) instead of queueing without bound, so memory stays flat under overload.
// Jobs cheaper than the hop itself (symmetric, HMAC, P-256 and Ed25519 signatures) never cross: they run on
// this thread (inline-lane.ts). RSA key generation, which takes up to seconds, leaves alone and only a few at a
// time (rsaGenerationsInFlight): the rest wait here, so a burst of RSA_4096 data key pairs cannot hold every task
// slot and make a symmetric CreateKey or an ECC data key pair wait behind all of it.
import { Piscina } from 'piscina';
import { THROTTLING_MESSAGE, type KmsFailure } from '../contract/errors.js';
import {
  KEY_CACHE_CHANNEL, WORKER_READY_CHANNEL, type BatchResult, type EvictMessage, type Job, type JobInput, type JobName,
  type JobResult,
} from '../contract/tasks.js';
import { BroadcastChannel, type Worker } from 'node:worker_threads';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { onceAfterPromiseJobs } from '../after-promise-jobs.js';
import { KmsError } from '../protocol/errors.js';
import { CRYPTO_WORKER_FILE } from '../paths.js';
import type { RootKeyPlan } from '../root-key/open.js';
import type { LoadFailure } from '../../workers/loaded.js';
import { runsInline, type InlineLane } from './inline-lane.js';
import { withStandaloneViews } from './standalone-views.js';

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
  /** The worker module; the real crypto worker unless a test substitutes its own. */
  workerFile?: string;
  /** Runs the jobs cheaper than a hop on this thread (inline-lane.ts); without it every job hops. */
  inline?: InlineLane;
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
  /** Already re-run once after its worker died. */
  retried?: boolean;
}

/**
 * RSA key generation (CreateKey, rotation, GenerateDataKeyPair*, GetParametersForImport's wrapping key pair) runs
 * for 80 ms to seconds: it never shares a batch with quick jobs, whose answers would wait for it. Other key
 * generation (symmetric, HMAC, ECC, Ed25519, ML-DSA, ML-KEM) takes about a millisecond and travels in ordinary
 * batches.
 */
function isRsaGeneration(job: Job): boolean {
  switch (job.op) {
    case 'generateMaterial': return job.spec.startsWith('RSA_');
    case 'generateDataKeyPair': return job.pairSpec.startsWith('RSA_');
    case 'importParameters': return job.wrappingKeySpec.startsWith('RSA_');
    default: return false;
  }
}

/**
 * RSA generations in flight at once, per pool. Each runs on libuv's thread pool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise), which the store's file I/O, the audit log and ECC key generation share, and
 * which runs what it is given in order: one thread is left for them, so they need not wait for a generation to end.
 */
function rsaGenerationsInFlight(): number {
  const threads = Number(process.env['UV_THREADPOOL_SIZE']) || 4;
  return Math.max(1, threads - 1);
}

/** Task slots per worker: one in flight leaves workers idle between tasks (ceilings.md: 4 doubled P-256). */
const TASKS_PER_WORKER = 4;

/** How long close() waits for workers still loading before it terminates them anyway. */
const LOAD_WAIT_MS = 15_000;

const INTERNAL: KmsFailure = { ok: false, code: 'KMSInternalException', message: 'The request failed because of an internal error.' };

export class CryptoPool {
  private readonly piscina: Piscina<Job[], BatchResult>;
  private readonly waiting: Waiting[] = [];
  private readonly maxInFlight: number;
  private readonly evictions = new BroadcastChannel(KEY_CACHE_CHANNEL);
  private readonly readiness = new BroadcastChannel(WORKER_READY_CHANNEL);
  /** Threads (of any pool in this process) that have finished loading their module graph (workers/loaded.ts). */
  private readonly loadedThreads = new Set<number>();
  /** close() waiting for threads still loading: called on every thread that finishes. */
  private onThreadLoaded: (() => void) | undefined;
  /** whenLoaded() waiting for every thread to load, or for one to fail. */
  private readonly loadWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  /** The threads this pool has run, to tell its load failures from other pools' on the shared channel. */
  private readonly ownThreads = new Set<number>();
  /** The first worker that failed to load; Piscina starts no replacement for it. */
  private workerFailure: Error | undefined;
  /** Told of a worker that failed to load once start-up is over (whenLoaded() tells of those before). */
  onWorkerFailure: ((error: Error) => void) | undefined;
  private inFlight = 0;
  /** RSA generations waiting for one of the few places (rsaGenerationsInFlight), oldest first. */
  private readonly rsaWaiting: Waiting[] = [];
  private rsaInFlight = 0;
  private readonly maxRsaInFlight = rsaGenerationsInFlight();
  /** Each worker's event-loop utilization at the previous stats() call: utilization is reported per interval. */
  private readonly lastUtilization = new WeakMap<Worker, EventLoopUtilization>();
  /** Jobs whose worker died under them, waiting to be retried one at a time. */
  private readonly suspects: Waiting[] = [];
  private retryingSuspect = false;

  constructor(private readonly options: CryptoPoolOptions) {
    this.piscina = new Piscina({
      filename: options.workerFile ?? CRYPTO_WORKER_FILE,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: TASKS_PER_WORKER,
      // Tasks arrive as ordinary messages: an idle worker's event loop keeps turning, so background work (RSA
      // pair pre-generation, cache evictions on the broadcast channel) progresses between tasks, and it cost
      // ~15% less server CPU per Encrypt than Atomics.waitAsync ('async') in a side-by-side bench run.
      atomics: 'disabled',
      workerData: {
        rootKeys: options.rootKeys,
        // Unwrapped keys per worker: a working set of tens of thousands of keys stays cached (AES keys ~200 B each).
        cacheEntries: options.cacheEntries ?? 50_000,
        cacheTtlMs: options.cacheTtlMs ?? 5 * 60_000,
      },
    });
    this.maxInFlight = options.workers * TASKS_PER_WORKER;
    (this.evictions as unknown as { unref(): void }).unref();
    this.readiness.onmessage = (event) => {
      const data = (event as unknown as { data: number | LoadFailure }).data;
      if (typeof data !== 'number') {
        // The channel is the process's: another pool's thread (tests run several) is not this pool's failure.
        for (const thread of this.piscina.threads) this.ownThreads.add(thread.threadId);
        if (this.ownThreads.has(data.failedThread)) this.workerFailed(new Error(data.message));
        return;
      }
      this.loadedThreads.add(data);
      this.onThreadLoaded?.();
      if (this.allThreadsLoaded()) this.settleLoadWaiters((waiter) => waiter.resolve());
    };
    // A worker that fails holding no task (one whose module throws while loading: its root key would not open)
    // is reported by Piscina as an 'error' event, which unheard kills the process with a stack trace. A failure to
    // load also comes on the readiness channel (workers/loaded.ts), which is what whenLoaded and onWorkerFailure
    // go by: Piscina starts no replacement for such a worker, while one that had loaded is replaced.
    this.piscina.on('workerCreate', (worker: { threadId: number }) => this.ownThreads.add(worker.threadId));
    this.piscina.on('error', (error: unknown) => {
      // Once serving (onWorkerFailure set): during a start, a failure to load is the start's own one line.
      if (this.onWorkerFailure !== undefined) console.error(`kms-engine: a crypto thread failed: ${error instanceof Error ? error.name : typeof error}`);
    });
    (this.readiness as unknown as { unref(): void }).unref();
  }

  /** Runs one job; resolves with its result (failures are data). Throws ThrottlingException when saturated. */
  run<N extends JobName>(job: JobInput<N>): Promise<JobResult<N>> {
    const inline = this.options.inline;
    if (inline !== undefined && runsInline(job as Job)) return Promise.resolve(this.runInline(inline, job as Job) as JobResult<N>);
    // RSA generations in flight count toward the same bound as the jobs waiting.
    if (this.waiting.length + this.rsaWaiting.length + this.rsaInFlight >= this.options.maxQueuedJobs) {
      throw new KmsError('ThrottlingException', THROTTLING_MESSAGE);
    }
    return new Promise<JobResult<N>>((resolve) => {
      const entry: Waiting = { job: job as Job, enqueuedAt: performance.now(), resolve: resolve as (r: JobResult) => void };
      if (isRsaGeneration(job as Job)) {
        this.rsaWaiting.push(entry);
        this.startRsaGenerations();
      } else {
        this.waiting.push(entry);
        this.schedulePump();
      }
    });
  }

  /** Inline jobs report to the same observer as pool tasks: no wait, their run time, the lane's cache counters. */
  private runInline(inline: InlineLane, job: Job): JobResult {
    const startedAt = performance.now();
    const result = inline.run(job);
    this.options.onTask?.({ jobs: [job], waitSeconds: 0, runSeconds: (performance.now() - startedAt) / 1000, cache: inline.takeCacheStats() });
    return result;
  }

  /** Tells every worker to drop the cached material of these keys (disabled, rotated, deleted). */
  evict(keyIds: readonly string[]): void {
    if (keyIds.length === 0) return;
    this.options.inline?.evict(keyIds);
    this.evictions.postMessage({ evict: [...keyIds] } satisfies EvictMessage);
  }

  stats(): { queueDepth: number; inFlight: number; workers: number; utilization: number } {
    return {
      queueDepth: this.waiting.length + this.rsaWaiting.length + this.rsaInFlight,
      inFlight: this.inFlight,
      workers: this.options.workers,
      utilization: this.workerUtilization(),
    };
  }

  /**
   * Share of time the worker threads were busy since the previous call (0..1), from each thread's event-loop
   * utilization. (Piscina's own figure is a lifetime average.) An idle worker waits with Atomics.waitAsync, so
   * its event loop is idle.
   */
  private workerUtilization(): number {
    const threads = this.piscina.threads;
    if (threads.length === 0) return 0;
    let sum = 0;
    for (const thread of threads) {
      const now = thread.performance.eventLoopUtilization();
      const previous = this.lastUtilization.get(thread);
      sum += (previous === undefined ? now : thread.performance.eventLoopUtilization(now, previous)).utilization;
      this.lastUtilization.set(thread, now);
    }
    // Clamped: a worker's counters are read across threads, and a near-idle interval can come out a hair below 0.
    return Math.min(1, Math.max(0, sum / threads.length));
  }

  private workerFailed(failure: Error): void {
    if (this.workerFailure !== undefined) return;
    this.workerFailure = failure;
    if (this.settleLoadWaiters((waiter) => waiter.reject(failure)) === 0) this.onWorkerFailure?.(failure);
  }

  /** Settles every whenLoaded() waiting, and lets the readiness channel go back to not holding the process. */
  private settleLoadWaiters(settle: (waiter: { resolve: () => void; reject: (error: Error) => void }) => void): number {
    const waiters = this.loadWaiters.splice(0);
    if (waiters.length > 0) (this.readiness as unknown as { unref(): void }).unref();
    for (const waiter of waiters) settle(waiter);
    return waiters.length;
  }

  /**
   * Resolves once every worker has loaded (and so opened its root key); rejects with the error of a worker that
   * could not, the way a start learns that the workers cannot serve before it listens.
   */
  whenLoaded(): Promise<void> {
    if (this.workerFailure !== undefined) return Promise.reject(this.workerFailure);
    if (this.allThreadsLoaded()) return Promise.resolve();
    // The announcements come on the readiness channel, unref'd so that an idle pool never holds the process open.
    // A start waiting for them must hold it: Piscina unrefs a worker once its module has loaded, which can come
    // before that worker's announcement (two channels, no order between them), and with nothing else pending Node
    // ended the start with exit 13 (a top-level await that never settled) instead of serving.
    if (this.loadWaiters.length === 0) (this.readiness as unknown as { ref(): void }).ref();
    return new Promise((resolve, reject) => this.loadWaiters.push({ resolve, reject }));
  }

  /**
   * Waits for workers still loading their modules, then stops them all. Terminating a worker while Node loads
   * its ES module graph (Piscina require()s it) aborts the whole process on Node 20 (V8 fatal error "IsGraphAsync
   * must be used on an instantiated module"): a command that failed right after start-up and closed its pool
   * did that about one time in eight, and test/hardening/worker-crash once did the same when it closed its pool
   * while Piscina was loading replacements for the workers it had killed. So every thread the pool runs now,
   * replacements included, must have said it loaded (workers/loaded.ts).
   */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onThreadLoaded = undefined;
        resolve();
      };
      const timer = setTimeout(done, LOAD_WAIT_MS);
      this.onThreadLoaded = () => { if (this.allThreadsLoaded()) done(); };
      this.onThreadLoaded();
    });
    this.readiness.close();
    this.evictions.close();
    this.options.inline?.close();
    await this.piscina.destroy();
  }

  /**
   * As many threads as the pool keeps (a dead one's replacement may not exist yet; after a worker failed to load,
   * Piscina starts none, so the ones there are), each of them loaded.
   */
  private allThreadsLoaded(): boolean {
    const threads = this.piscina.threads;
    return (threads.length >= this.options.workers || this.workerFailure !== undefined)
      && threads.every((thread) => this.loadedThreads.has(thread.threadId));
  }

  /** One flush per callback: the jobs of a turn batch's requests, whatever awaits led to them, share the hop. */
  private readonly schedulePump = onceAfterPromiseJobs(() => this.pump());

  private pump(): void {
    // Spread a deep queue over every worker rather than handing one worker a full batch and another a crumb.
    const size = Math.min(this.options.batchSize, Math.ceil(this.waiting.length / this.options.workers));
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      this.dispatch(this.waiting.splice(0, size));
    }
  }

  /** Each RSA generation leaves alone, while fewer than maxRsaInFlight run; the next starts as one finishes. */
  private startRsaGenerations(): void {
    while (this.rsaInFlight < this.maxRsaInFlight && this.rsaWaiting.length > 0) {
      this.rsaInFlight++;
      this.dispatch([this.rsaWaiting.shift()!], () => {
        this.rsaInFlight--;
        this.startRsaGenerations();
      });
    }
  }

  /** Resolves once the batch's jobs are settled or, if its worker died, handed on as suspects. */
  private dispatch(batch: Waiting[], done?: () => void): Promise<void> {
    this.inFlight++;
    const startedAt = performance.now();
    const jobs = batch.map((entry) => entry.job);
    // Pooled Buffers would cross as their whole 8 KiB pool (standalone-views.ts).
    return this.piscina.run(jobs.map((job) => withStandaloneViews(job))).then(
      (outcome) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(outcome.results[i] ?? INTERNAL);
        this.options.onTask?.({
          jobs,
          waitSeconds: (startedAt - batch[0]!.enqueuedAt) / 1000,
          runSeconds: (performance.now() - startedAt) / 1000,
          cache: outcome.cache,
        });
      },
      // The worker thread died (Piscina replaces it), taking every task it held. Only the job that killed it
      // should fail, so each job it held becomes a suspect and is retried once, alone and one at a time (jobs
      // are pure computations, safe to run again): bystanders succeed, and the culprit, retried without
      // company, cannot take a second set of bystanders down with it, and fails as KMSInternalException.
      () => {
        for (const entry of batch) {
          if (entry.retried) entry.resolve(INTERNAL);
          else {
            entry.retried = true;
            this.suspects.push(entry);
          }
        }
        this.retryNextSuspect();
      },
    ).finally(() => {
      this.inFlight--;
      done?.();
      this.pump();
    });
  }

  private retryNextSuspect(): void {
    if (this.retryingSuspect) return;
    const suspect = this.suspects.shift();
    if (suspect === undefined) return;
    this.retryingSuspect = true;
    this.dispatch([suspect]).finally(() => {
      this.retryingSuspect = false;
      this.retryNextSuspect();
    });
  }
}
