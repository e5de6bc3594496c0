// The inline lane: jobs cheaper than a thread hop run on the main thread. A hop (postMessage, structured clone,
// a wake-up on each side) costs ~20 us of CPU per job even when batched, more than an AES-GCM encryption of a
// few KiB (~5 us), an HMAC (~3 us), an ECDSA P-256 signature (~26 us) or an Ed25519 signature (~35 us)
// (bench/micro/primitives.ts; ceilings.md). Paying the hop for those only adds CPU per request and latency, so
// they run here, synchronously, in the same JobRunner the workers use, with the main thread's own guarded key
// cache. Everything slower (RSA private operations, the other curves, ML-DSA, Ed25519ph and DIGEST verification
// on @noble, key generation) still goes to the pool, where it spreads over cores and cannot stall the loop.
import type { KeySpec, MessageType, SigningAlgorithm } from '../contract/key-specs.js';
import type { Job, JobResult, KeyRef, SealTarget, SealedInput } from '../contract/tasks.js';
import type { RootKeyPlan } from '../root-key/open.js';
import { openRootKeyRing } from '../root-key/open.js';
import type { RootKeyRing } from '../root-key/ring.js';
import { JobRunner } from '../../workers/handlers.js';
import type { KeyCacheStats } from '../../workers/key-cache.js';

/** Specs whose every symmetric or MAC job is cheap. */
const CHEAP_SECRET_SPECS: ReadonlySet<KeySpec> = new Set(['SYMMETRIC_DEFAULT', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512']);

/**
 * Signing jobs that node:crypto (OpenSSL) does in well under the hop's cost: P-256 sign ~26 us (DIGEST ~53 us)
 * and RAW verify ~66 us; Ed25519 sign ~35 us and verify ~107 us. DIGEST verification of P-256 runs on @noble
 * (~2 ms) and Ed25519ph on @noble (~0.5-1.5 ms): those hop.
 */
function cheapSignature(spec: KeySpec, algorithm: SigningAlgorithm, messageType: MessageType, verifying: boolean): boolean {
  if (spec === 'ECC_NIST_P256') return !(verifying && messageType === 'DIGEST');
  if (spec === 'ECC_NIST_EDWARDS25519') return algorithm === 'ED25519_SHA_512';
  return false;
}

const cheapKey = (key: KeyRef): boolean => CHEAP_SECRET_SPECS.has(key.spec);
const cheapSealed = (sealed: SealedInput | SealTarget): boolean => sealed.kind === 'symmetric' && cheapKey(sealed.key);

/** Whether a job runs inline rather than crossing to a worker. */
export function runsInline(job: Job): boolean {
  switch (job.op) {
    case 'encrypt': return cheapSealed(job.target);
    case 'decrypt': return cheapSealed(job.source);
    case 'reEncrypt': return cheapSealed(job.source) && cheapSealed(job.target);
    case 'generateDataKey': case 'generateMac': case 'verifyMac': return cheapKey(job.key);
    case 'sign': return cheapSignature(job.key.spec, job.algorithm, job.messageType, false);
    case 'verify': return cheapSignature(job.key.spec, job.algorithm, job.messageType, true);
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
