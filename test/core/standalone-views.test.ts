// Jobs must cross to the workers as their own bytes, not as the 8 KiB allocation pool their Buffers are cut
// from (src/pool/standalone-views.ts).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KeyRef } from '../../src/contract/tasks.js';
import { CryptoPool } from '../../src/pool/crypto-pool.js';
import { withStandaloneViews } from '../../src/pool/standalone-views.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import type { RootKeyPlan } from '../../src/root-key/open.js';

const pooled = (text: string): Buffer => Buffer.from(Buffer.from(text).toString('base64'), 'base64');

describe('withStandaloneViews', () => {
  it('copies views of a larger buffer into buffers of their own, and nothing else', () => {
    const message = pooled('sign me');
    expect(message.buffer.byteLength).toBeGreaterThan(message.length); // the premise: a slice of Node's pool
    const own = new Uint8Array([1, 2, 3]);
    const key = { keyId: 'k', materialId: 'm', spec: 'ECC_NIST_P256', wrapped: pooled('wrapped key') } as unknown as KeyRef;
    const job = { op: 'sign', key, algorithm: 'ECDSA_SHA_256', messageType: 'RAW', message, extra: own };

    const crossing = withStandaloneViews(job);
    expect(crossing.message.buffer.byteLength).toBe(message.length);
    expect(Buffer.from(crossing.message).toString()).toBe('sign me');
    expect(crossing.key.wrapped.buffer.byteLength).toBe(crossing.key.wrapped.length);
    expect(Buffer.from(crossing.key.wrapped).toString()).toBe('wrapped key');
    expect(crossing.extra).toBe(own); // already standalone: passed as is
    expect(crossing.algorithm).toBe('ECDSA_SHA_256');
    // The caller's objects are untouched: the key reference may be shared with a cache.
    expect(job.message).toBe(message);
    expect(job.key).toBe(key);
    expect(key.wrapped).toBeInstanceOf(Buffer);
    expect((key.wrapped as Buffer).buffer.byteLength).toBeGreaterThan(key.wrapped.length);
  });

  it('returns a job with nothing to copy as the same object', () => {
    const job = { op: 'encrypt', plaintext: new Uint8Array(4), target: { kind: 'symmetric', key: { wrapped: new Uint8Array(8) } } };
    expect(withStandaloneViews(job)).toBe(job);
  });
});

describe('CryptoPool', () => {
  it('posts each job with standalone byte arrays: a worker receives the bytes, not the pool they came from', async () => {
    const pool = new CryptoPool({
      workers: 1, batchSize: 8, maxQueuedJobs: 16, rootKeys: {} as RootKeyPlan,
      workerFile: join(PROJECT_ROOT, 'dist', 'test', 'core', 'view-probe-worker.js'),
    });
    try {
      const key = { keyId: 'k', materialId: 'm', spec: 'ECC_NIST_P256', wrapped: pooled('w'.repeat(60)) } as unknown as KeyRef;
      const result = await pool.run({ op: 'sign', key, algorithm: 'ECDSA_SHA_256', messageType: 'RAW', message: pooled('message') });
      expect((result as unknown as { backings: number[] }).backings.sort((a, b) => a - b)).toEqual([7, 60]);
    } finally {
      await pool.close();
    }
  });
});
