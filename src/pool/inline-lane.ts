// The inline lane: jobs cheaper than a thread hop run on the main thread. A hop (postMessage, structured clone,
// a wake-up on each side) costs more CPU than an AES-GCM encryption of a few KiB (~5 us) or an HMAC (~3 us)
// (bench/micro/primitives.ts; ceilings.md), so symmetric and HMAC jobs run here, synchronously, in the same
// JobRunner the workers use, with the main thread's own guarded key cache. Measured side by side (bench --compare,
// KMS_INLINE_CRYPTO on vs off, 64 connections): Encrypt 1 KiB +17% requests per server CPU-second inline; Sign
// P-256 -5%, Verify P-256 +4%, Sign Ed25519 +5% (all within the machine's noise) but up to -17% requests per
// second, because a saturated main thread then signs too while the workers idle. Batched signing jobs amortize
// their hop, so every asymmetric job, like key generation, stays in the pool, where it spreads over cores.
import type { KeySpec } from '../contract/key-specs.js';
import type { Job, JobResult, KeyRef, SealTarget, SealedInput } from '../contract/tasks.js';
import type { RootKeyPlan } from '../root-key/open.js';
import { openRootKeyRing } from '../root-key/open.js';
import type { RootKeyRing } from '../root-key/ring.js';
import { JobRunner } from '../../workers/handlers.js';
import type { KeyCacheStats } from '../../workers/key-cache.js';

/** Specs whose every job is cheaper than the hop. */
const CHEAP_SECRET_SPECS: ReadonlySet<KeySpec> = new Set(['SYMMETRIC_DEFAULT', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512']);

const cheapKey = (key: KeyRef): boolean => CHEAP_SECRET_SPECS.has(key.spec);
const cheapSealed = (sealed: SealedInput | SealTarget): boolean => sealed.kind === 'symmetric' && cheapKey(sealed.key);

/** Whether a job runs inline rather than crossing to a worker. */
export function runsInline(job: Job): boolean {
  switch (job.op) {
    case 'encrypt': return cheapSealed(job.target);
    case 'decrypt': return cheapSealed(job.source);
    case 'reEncrypt': return cheapSealed(job.source) && cheapSealed(job.target);
    case 'generateDataKey': case 'generateMac': case 'verifyMac': return cheapKey(job.key);
    default: return false;
  }
}

export class InlineLane {
  private readonly rootKeys: RootKeyRing;
  private readonly runner: JobRunner;

  /** Opens the root key in this thread too (a file's bytes, or a session on the PKCS#11 token). */
  constructor(rootKeys: RootKeyPlan, cacheEntries: number, cacheTtlMs: number) {
    this.rootKeys = openRootKeyRing(rootKeys);
    this.runner = new JobRunner(this.rootKeys, cacheEntries, cacheTtlMs);
  }

  /** Runs a job for which runsInline() holds; every handler it reaches is synchronous. */
  run(job: Job): JobResult {
    const result = this.runner.runGuarded(job);
    if (result instanceof Promise) throw new Error(`inline job ${job.op} is not synchronous`);
    return result;
  }

  evict(keyIds: readonly string[]): void {
    this.runner.cache.evictKeys(keyIds);
  }

  takeCacheStats(): KeyCacheStats {
    return this.runner.cache.takeStats();
  }

  close(): void {
    this.runner.cache.evictKeys([...this.runner.cache.keyIds()]);
    this.rootKeys.close();
  }
}
