// Crypto workers that cannot load (their root key will not open) are reported, not fatal and not silent: Piscina
// gives such a failure, which holds no task, to its 'error' event (unheard, it ends the process with a stack
// trace) and starts no replacement (jobs would then wait forever). CryptoPool.whenLoaded rejects with the
// worker's message, which the server's start turns into its one line (see pkcs11.test.ts for the real token).
// Needs `npm run build` (workers run compiled).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { CryptoPool } from '../../src/pool/crypto-pool.js';

const UNOPENABLE_WORKER_FILE = join(PROJECT_ROOT, 'dist', 'test', 'hardening', 'unopenable-worker.js');
const REAL_WORKER_FILE = join(PROJECT_ROOT, 'dist', 'workers', 'crypto.worker.js');
const LATE_WORKER_FILE = join(PROJECT_ROOT, 'dist', 'test', 'hardening', 'late-announcing-worker.js');

const dir = mkdtempSync(join(tmpdir(), 'kms-worker-load-'));
const rootKeyFile = join(dir, 'root.key');
writeFileSync(rootKeyFile, randomBytes(32), { mode: 0o600 });
const pools: CryptoPool[] = [];
const newPool = (workerFile: string, workers = 2) => {
  const pool = new CryptoPool({
    workers, batchSize: 32, maxQueuedJobs: 100, workerFile,
    rootKeys: { current: { kind: 'file', path: rootKeyFile, variable: 'KMS_ROOT_KEY_FILE' } },
  });
  pools.push(pool);
  return pool;
};

afterAll(async () => {
  for (const pool of pools) await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('crypto workers that cannot load', () => {
  it('whenLoaded rejects with the worker\'s own message, and the process lives on', async () => {
    const pool = newPool(UNOPENABLE_WORKER_FILE);
    await expect(pool.whenLoaded()).rejects.toThrow("KMS_ROOT_KEY: the token holds more than one secret key labelled 'kms-root'");
    // Asked again later, the answer is the same.
    await expect(pool.whenLoaded()).rejects.toThrow('KMS_ROOT_KEY: the token holds more than one');
  });

  it('also when a job was handed to the worker before it failed', async () => {
    const pool = newPool(UNOPENABLE_WORKER_FILE, 1);
    void pool.run({ op: 'generateMaterial', keyId: '00000000-0000-4000-8000-000000000002', materialId: 'm', spec: 'SYMMETRIC_DEFAULT' });
    await expect(pool.whenLoaded()).rejects.toThrow('KMS_ROOT_KEY: the token holds more than one');
  });

  it('whenLoaded holds the process until the workers announce themselves, also after Piscina has unref\'d them', () => {
    // In a process of its own, where nothing else is pending (vitest's own handles would keep this one alive): a
    // start that awaited an unref'd channel ended with exit 13 before the announcement came.
    const script = `
      import { CryptoPool } from ${JSON.stringify(pathToFileURL(join(PROJECT_ROOT, 'dist', 'src', 'pool', 'crypto-pool.js')).href)};
      const pool = new CryptoPool({ workers: 2, batchSize: 32, maxQueuedJobs: 100, workerFile: ${JSON.stringify(LATE_WORKER_FILE)},
        rootKeys: { current: { kind: 'file', path: ${JSON.stringify(rootKeyFile)}, variable: 'KMS_ROOT_KEY_FILE' } } });
      await pool.whenLoaded();
      console.log('loaded');
      await pool.close();`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect({ status: run.status, stdout: run.stdout.trim() }).toEqual({ status: 0, stdout: 'loaded' });
  });

  it('whenLoaded resolves once real workers have loaded, and they serve', async () => {
    const pool = newPool(REAL_WORKER_FILE);
    await pool.whenLoaded();
    const made = await pool.run({ op: 'generateMaterial', keyId: '00000000-0000-4000-8000-000000000001', materialId: 'm', spec: 'SYMMETRIC_DEFAULT' });
    expect(made.ok).toBe(true);
  });
});
