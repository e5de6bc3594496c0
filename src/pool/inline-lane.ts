// The inline lane: jobs cheaper than a thread hop run on the main thread. A hop (postMessage, structured clone, a
// wake-up on each side) costs more CPU than an AES-GCM encryption of a few KiB (~5 us), an HMAC (~3 us), or an
// ECDSA P-256 or Ed25519 signature in OpenSSL (25-70 us with verification), so those run here, synchronously, in
// the same JobRunner the workers use, with the main thread's own guarded key cache. Decided side by side
// (bench/README.md, "When not to hop"): Encrypt 1 KiB +17% requests per server CPU-second inline; with the turn
// batch (turn-batch.ts) Sign P-256 +26% and +39%, Verify P-256 +17%, Sign Ed25519 +25%, at equal or higher requests
// per second. Everything slower stays in the pool, where it spreads over cores: RSA, the other curves, Ed25519ph
// (pure JS), ML-DSA and key generation. On a machine with many cores, KMS_FRONTENDS spreads the inline work too (a
// front end per core).
import type { KeySpec, SigningAlgorithm } from '../contract/key-specs.js';
import type { Job, JobResult, KeyRef, SealTarget, SealedInput } from '../contract/tasks.js';
import type { RootKeyPlan } from '../root-key/open.js';
import { openRootKeyRing } from '../root-key/open.js';
import type { RootKeyRing } from '../root-key/ring.js';
import { JobRunner } from '../../workers/handlers.js';
import type { KeyCacheStats } from '../../workers/key-cache.js';

/** Specs whose every job is cheaper than the hop. */
const CHEAP_SECRET_SPECS: ReadonlySet<KeySpec> = new Set(['SYMMETRIC_DEFAULT', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512']);

/** Signing (and verifying) where OpenSSL is fast enough that the hop would cost more than the signature. */
const cheapSignature = (key: KeyRef, algorithm: SigningAlgorithm): boolean =>
  key.spec === 'ECC_NIST_P256' || (key.spec === 'ECC_NIST_EDWARDS25519' && algorithm === 'ED25519_SHA_512');

const cheapKey = (key: KeyRef): boolean => CHEAP_SECRET_SPECS.has(key.spec);
const cheapSealed = (sealed: SealedInput | SealTarget): boolean => sealed.kind === 'symmetric' && cheapKey(sealed.key);

/** Whether a job runs inline rather than crossing to a worker. */
export function runsInline(job: Job): boolean {
  switch (job.op) {
    case 'encrypt': return cheapSealed(job.target);
    case 'decrypt': return cheapSealed(job.source);
    case 'reEncrypt': return cheapSealed(job.source) && cheapSealed(job.target);
    case 'generateDataKey': case 'generateMac': case 'verifyMac': return cheapKey(job.key);
    case 'sign': case 'verify': return cheapSignature(job.key, job.algorithm);
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
