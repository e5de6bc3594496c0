// The pool's batching and backpressure, in-process with real worker threads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { TaskReport } from '../../src/pool/crypto-pool.js';
import { createKey } from '../../src/keys/factory.js';
import { keyRef } from '../../src/operations/context.js';
import { KmsError } from '../../src/protocol/errors.js';
import { openEngine } from '../../src/server.js';

let dataDir: string;
let core: Awaited<ReturnType<typeof openEngine>>;
const reports: TaskReport[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kms-engine-pool-'));
  core = await openEngine(loadConfig({ KMS_DATA_DIR: dataDir, KMS_WORKERS: '2', KMS_MAX_QUEUED_JOBS: '64' }), () => {});
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
