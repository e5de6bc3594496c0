// The pool's batching and backpressure, in-process with real worker threads (inline lane off, so cheap jobs
// cross too), and the inline lane: which jobs stay on the main thread, and that both sides agree.
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { WORKER_READY_CHANNEL, type KeyRef } from '../../src/contract/tasks.js';
import { createKey } from '../../src/keys/factory.js';
import { runsInline } from '../../src/pool/inline-lane.js';
import { CryptoPool, type TaskReport } from '../../src/pool/crypto-pool.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { LOAD_MS } from './slow-start.js';
import { keyRef } from '../../src/operations/context.js';
import { KmsError } from '../../src/protocol/errors.js';
import { openEngine } from '../../src/server.js';

let dataDir: string;
let core: Awaited<ReturnType<typeof openEngine>>;
const reports: TaskReport[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kms-engine-pool-'));
  core = await openEngine(loadConfig({
    KMS_DATA_DIR: dataDir, KMS_WORKERS: '2', KMS_MAX_QUEUED_JOBS: '64', KMS_INLINE_CRYPTO: 'off',
  }), () => {});
  core.setTaskObserver((report) => reports.push(report));
});
afterAll(async () => {
  await core?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('CryptoPool', () => {
  it('sends the jobs of one event-loop turn together, spread over the workers', async () => {
    const key = await createKey(core.engine.keyring, core.engine.pool, {
      spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS', description: '', policy: '{}', tags: [],
    });
    reports.length = 0;
    const ref = keyRef(key);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      core.engine.pool.run({ op: 'encrypt', target: { kind: 'symmetric', key: ref }, plaintext: Buffer.from(`m${i}`) })));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(reports.map((r) => r.jobs.length)).toEqual([20, 20]);
    // Each result belongs to its own job: decrypt them all back.
    const opened = await Promise.all(results.map((r) => core.engine.pool.run({
      op: 'decrypt', source: { kind: 'symmetric', key: ref, blob: (r as { ciphertext: Uint8Array }).ciphertext },
    })));
    expect(opened.map((r) => r.ok && Buffer.from(r.plaintext).toString())).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
  });

  it('sends the jobs that one callback\'s promise jobs submitted before the event loop runs anything else', async () => {
    const key = (await core.engine.keyring.get((await core.engine.keyring.store.listKeyIds(undefined, 1))[0]!))!;
    const ref = keyRef(key);
    reports.length = 0;
    let results: Array<Promise<unknown>> = [];
    // Two immediates of one check phase: the first submits jobs after different numbers of awaits (as the
    // requests of a turn batch do); when the second runs, they have left, as one batch over the two workers.
    const seenNext = await new Promise<ReturnType<CryptoPool['stats']>>((resolve) => {
      setImmediate(() => {
        results = Array.from({ length: 6 }, async (_, depth) => {
          for (let hop = 0; hop < depth * 2; hop++) await Promise.resolve();
          return core.engine.pool.run({ op: 'encrypt', target: { kind: 'symmetric', key: ref }, plaintext: Buffer.from('x') });
        });
      });
      setImmediate(() => resolve(core.engine.pool.stats()));
    });
    expect(seenNext).toMatchObject({ queueDepth: 0, inFlight: 2 });
    await Promise.all(results);
    expect(reports.map((r) => r.jobs.length)).toEqual([3, 3]);
  });

  it('refuses work past the queue bound with ThrottlingException instead of queueing without bound', async () => {
    const key = (await core.engine.keyring.get((await core.engine.keyring.store.listKeyIds(undefined, 1))[0]!))!;
    const ref = keyRef(key);
    const accepted: Array<Promise<unknown>> = [];
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      try {
        accepted.push(core.engine.pool.run({ op: 'encrypt', target: { kind: 'symmetric', key: ref }, plaintext: Buffer.from('x') }));
      } catch (error) {
        expect(error).toBeInstanceOf(KmsError);
        expect((error as KmsError).code).toBe('ThrottlingException');
        refused++;
      }
    }
    expect(accepted.length).toBe(64);
    expect(refused).toBe(136);
    await Promise.all(accepted);
  });

  it('counts key generation toward the queue bound too', async () => {
    const small = await openEngine(loadConfig({
      KMS_DATA_DIR: mkdtempSync(join(tmpdir(), 'kms-engine-pool-solo-')), KMS_WORKERS: '1', KMS_MAX_QUEUED_JOBS: '2',
    }), () => {});
    try {
      const outcomes: string[] = [];
      const jobs: Array<Promise<unknown>> = [];
      for (let i = 0; i < 5; i++) {
        try {
          jobs.push(small.engine.pool.run({ op: 'generateMaterial', keyId: `00000000-0000-4000-8000-00000000000${i}`, materialId: 'a'.repeat(64), spec: 'ECC_NIST_P256' }));
          outcomes.push('accepted');
        } catch (error) {
          outcomes.push((error as KmsError).code);
        }
      }
      expect(outcomes).toEqual(['accepted', 'accepted', 'ThrottlingException', 'ThrottlingException', 'ThrottlingException']);
      await Promise.all(jobs);
      expect(small.engine.pool.stats().queueDepth).toBe(0);
    } finally {
      await small.close();
    }
  });
});

describe('closing', () => {
  it('waits for workers still loading their modules: terminating one mid-load aborts the process on Node 20', async () => {
    const pool = new CryptoPool({
      workers: 2, batchSize: 32, maxQueuedJobs: 16, workerFile: join(PROJECT_ROOT, 'dist', 'test', 'core', 'slow-worker.js'),
      rootKeys: { current: { kind: 'file', path: join(dataDir, 'root.key'), variable: 'KMS_ROOT_KEY_FILE' } },
    });
    const startedAt = performance.now();
    await pool.close();
    // Some of the load time passed before close() was called (worker start-up): most of it remains.
    expect(performance.now() - startedAt).toBeGreaterThan(LOAD_MS / 2);
  });

  it('waits for the replacement of a worker that died, still loading its modules, too', async () => {
    const pool = new CryptoPool({
      workers: 2, batchSize: 32, maxQueuedJobs: 16, workerFile: join(PROJECT_ROOT, 'dist', 'test', 'core', 'slow-worker.js'),
      rootKeys: { current: { kind: 'file', path: join(dataDir, 'root.key'), variable: 'KMS_ROOT_KEY_FILE' } },
    });
    const announced = new Set<number>();
    const ready = new BroadcastChannel(WORKER_READY_CHANNEL);
    ready.onmessage = (event) => { announced.add((event as unknown as { data: number }).data); };
    try {
      await new Promise((resolve) => setTimeout(resolve, LOAD_MS * 3)); // both loaded
      // The test reaches into Piscina to kill a thread: production code has no such hook.
      const piscina = (pool as unknown as { piscina: { threads: Array<{ threadId: number; terminate(): Promise<number> }> } }).piscina;
      await piscina.threads[0]!.terminate(); // Piscina starts a replacement, which takes LOAD_MS to load
      // (Read now: a terminated Worker's threadId reads -1.)
      const replacement = piscina.threads.find((thread) => !announced.has(thread.threadId))?.threadId;
      expect(replacement).toBeDefined();
      await pool.close();
      expect(announced.has(replacement!)).toBe(true);
    } finally {
      ready.close();
    }
  });
});

describe('inline lane', () => {
  const ref = (spec: KeyRef['spec']): KeyRef => ({ keyId: 'k', materialId: 'm', spec, wrapped: new Uint8Array() });
  const message = new Uint8Array(32);

  it('keeps jobs cheaper than a hop on the main thread and sends the rest to the pool', () => {
    expect(runsInline({ op: 'encrypt', target: { kind: 'symmetric', key: ref('SYMMETRIC_DEFAULT') }, plaintext: message })).toBe(true);
    expect(runsInline({ op: 'generateDataKey', key: ref('SYMMETRIC_DEFAULT'), bytes: 32, withPlaintext: true })).toBe(true);
    expect(runsInline({ op: 'generateMac', key: ref('HMAC_256'), algorithm: 'HMAC_SHA_256', message })).toBe(true);
    expect(runsInline({ op: 'reEncrypt', source: { kind: 'symmetric', key: ref('SYMMETRIC_DEFAULT'), blob: message },
      target: { kind: 'symmetric', key: ref('SYMMETRIC_DEFAULT') } })).toBe(true);
    // OpenSSL's P-256 and Ed25519 sign and verify in less than a hop costs; Ed25519ph is pure JS, so it hops.
    expect(runsInline({ op: 'sign', key: ref('ECC_NIST_P256'), algorithm: 'ECDSA_SHA_256', messageType: 'RAW', message })).toBe(true);
    expect(runsInline({ op: 'verify', key: ref('ECC_NIST_P256'), algorithm: 'ECDSA_SHA_256', messageType: 'DIGEST', message, signature: message })).toBe(true);
    expect(runsInline({ op: 'sign', key: ref('ECC_NIST_EDWARDS25519'), algorithm: 'ED25519_SHA_512', messageType: 'RAW', message })).toBe(true);
    expect(runsInline({ op: 'verify', key: ref('ECC_NIST_EDWARDS25519'), algorithm: 'ED25519_SHA_512', messageType: 'RAW', message, signature: message })).toBe(true);
    expect(runsInline({ op: 'sign', key: ref('ECC_NIST_EDWARDS25519'), algorithm: 'ED25519_PH_SHA_512', messageType: 'DIGEST', message })).toBe(false);
    expect(runsInline({ op: 'sign', key: ref('ECC_NIST_P384'), algorithm: 'ECDSA_SHA_384', messageType: 'RAW', message })).toBe(false);
    expect(runsInline({ op: 'reEncrypt', source: { kind: 'symmetric', key: ref('SYMMETRIC_DEFAULT'), blob: message },
      target: { kind: 'rsa', key: ref('RSA_2048'), algorithm: 'RSAES_OAEP_SHA_256' } })).toBe(false);
    expect(runsInline({ op: 'sign', key: ref('RSA_2048'), algorithm: 'RSASSA_PSS_SHA_256', messageType: 'RAW', message })).toBe(false);
    expect(runsInline({ op: 'decrypt', source: { kind: 'rsa', key: ref('RSA_2048'), ciphertext: message, algorithm: 'RSAES_OAEP_SHA_256' } })).toBe(false);
    expect(runsInline({ op: 'sign', key: ref('ECC_SECG_P256K1'), algorithm: 'ECDSA_SHA_256', messageType: 'RAW', message })).toBe(false);
    expect(runsInline({ op: 'generateMaterial', keyId: 'k', materialId: 'm', spec: 'SYMMETRIC_DEFAULT' })).toBe(false);
  });

  it('runs cheap jobs without a hop, interoperates with the workers, and drops evicted keys', async () => {
    const inlineDir = mkdtempSync(join(tmpdir(), 'kms-engine-pool-inline-'));
    const inline = await openEngine(loadConfig({ KMS_DATA_DIR: inlineDir, KMS_WORKERS: '1' }), () => {});
    const inlineReports: TaskReport[] = [];
    inline.setTaskObserver((report) => inlineReports.push(report));
    try {
      const key = await createKey(inline.engine.keyring, inline.engine.pool, {
        spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS', description: '', policy: '{}', tags: [],
      });
      inlineReports.length = 0;
      const target = { kind: 'symmetric' as const, key: keyRef(key) };
      const pending = inline.engine.pool.run({ op: 'encrypt', target, plaintext: Buffer.from('inline') });
      // Done before the caller even awaits: it ran synchronously on this thread, with no queueing.
      expect(inlineReports).toHaveLength(1);
      expect(inlineReports[0]!.waitSeconds).toBe(0);
      expect(inlineReports[0]!.cache).toEqual({ hits: 0, misses: 1, evictions: 0 });
      const sealed = await pending;
      expect(sealed.ok).toBe(true);
      // The worker (same data dir, same root key, inline lane off) opens what the main thread sealed.
      const pooled = await openEngine(loadConfig({ KMS_DATA_DIR: inlineDir, KMS_WORKERS: '1', KMS_INLINE_CRYPTO: 'off' }), () => {});
      try {
        const opened = await pooled.engine.pool.run({
          op: 'decrypt', source: { kind: 'symmetric', key: keyRef(key), blob: (sealed as { ciphertext: Uint8Array }).ciphertext },
        });
        expect(opened.ok && Buffer.from(opened.plaintext).toString()).toBe('inline');
        // Signing inline: OpenSSL verifies the signature, and so does a worker, from the same wrapped key.
        const signedMessage = Buffer.from('inline signature');
        for (const [spec, algorithm, digest] of [['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256'], ['ECC_NIST_EDWARDS25519', 'ED25519_SHA_512', null]] as const) {
          const signingKey = await createKey(inline.engine.keyring, inline.engine.pool, {
            spec, usage: 'SIGN_VERIFY', origin: 'AWS_KMS', description: '', policy: '{}', tags: [],
          });
          const before = inlineReports.length;
          const signed = await inline.engine.pool.run({ op: 'sign', key: keyRef(signingKey), algorithm, messageType: 'RAW', message: signedMessage });
          expect(inlineReports.slice(before).map((r) => [r.jobs[0]!.op, r.waitSeconds])).toEqual([['sign', 0]]);
          const signature = (signed as { signature: Uint8Array }).signature;
          expect(cryptoVerify(digest, signedMessage, createPublicKey({ key: Buffer.from(signingKey.publicKey!), format: 'der', type: 'spki' }), signature)).toBe(true);
          const checked = await pooled.engine.pool.run({ op: 'verify', key: keyRef(signingKey), algorithm, messageType: 'RAW', message: signedMessage, signature });
          expect(checked.ok && checked.valid).toBe(true);
        }
      } finally {
        await pooled.close();
      }
      await inline.engine.pool.run({ op: 'encrypt', target, plaintext: Buffer.from('again') });
      expect(inlineReports.at(-1)!.cache).toEqual({ hits: 1, misses: 0, evictions: 0 });
      // A disabled, rotated or deleted key's material leaves the main thread's cache as well as the workers'.
      inline.engine.pool.evict([key.keyId]);
      await inline.engine.pool.run({ op: 'encrypt', target, plaintext: Buffer.from('after eviction') });
      expect(inlineReports.at(-1)!.cache).toEqual({ hits: 0, misses: 1, evictions: 0 });
    } finally {
      await inline.close();
      rmSync(inlineDir, { recursive: true, force: true });
    }
  });
});
