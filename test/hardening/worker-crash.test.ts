// A crashed crypto worker thread fails only the job that crashed it (as KMSInternalException); Piscina replaces
// the thread and the pool never wedges. The pool runs the real crypto worker through a test stand-in
// (crash-worker.ts) that dies on a marked plaintext, loaded with CryptoPool's workerFile option: production code
// has no crash hook. Needs `npm run build` (workers run compiled).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResult, KeyRef } from '../../src/contract/tasks.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { CryptoPool } from '../../src/pool/crypto-pool.js';
import { CRASH_PREFIX, type CrashMode } from './crash-marker.js';

const CRASH_WORKER_FILE = join(PROJECT_ROOT, 'dist', 'test', 'hardening', 'crash-worker.js');
const WORKERS = 2;

let dir: string;
let pool: CryptoPool;
let key: KeyRef;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kms-worker-crash-'));
  const rootKeyFile = join(dir, 'root.key');
  writeFileSync(rootKeyFile, randomBytes(32), { mode: 0o600 });
  pool = new CryptoPool({
    workers: WORKERS, batchSize: 32, maxQueuedJobs: 10_000, workerFile: CRASH_WORKER_FILE,
    rootKeys: { current: { kind: 'file', path: rootKeyFile, variable: 'KMS_ROOT_KEY_FILE' } },
  });
  const keyId = randomUUID();
  const materialId = randomBytes(32).toString('hex');
  const made = await pool.run({ op: 'generateMaterial', keyId, materialId, spec: 'SYMMETRIC_DEFAULT' });
  if (!made.ok) throw new Error(`generateMaterial failed: ${made.code}`);
  key = { keyId, materialId, spec: 'SYMMETRIC_DEFAULT', wrapped: made.wrapped };
});

afterAll(async () => {
  await pool?.close();
  rmSync(dir, { recursive: true, force: true });
});

const encrypt = (plaintext: string) =>
  pool.run({ op: 'encrypt', target: { kind: 'symmetric', key }, plaintext: Buffer.from(plaintext, 'latin1') });

/** Encrypts and decrypts back: proves the job ran for real in a live worker. */
async function roundTrip(plaintext: string): Promise<boolean> {
  const sealed = await encrypt(plaintext);
  if (!sealed.ok) return false;
  const opened = await pool.run({ op: 'decrypt', source: { kind: 'symmetric', key, blob: sealed.ciphertext } });
  return opened.ok && Buffer.from(opened.plaintext).toString('latin1') === plaintext;
}

const failureCode = (result: JobResult) => (result.ok ? 'ok' : result.code);

describe.each<CrashMode>(['exit', 'throw'])('a worker that dies (%s)', (mode) => {
  it('fails only the job that killed it; the jobs batched with it succeed', async () => {
    // Submitted in one event-loop turn, these travel in shared batches with the crashing job.
    const innocents = Array.from({ length: 40 }, (_, i) => roundTrip(`innocent ${mode} ${i}`));
    const crashing = encrypt(`${CRASH_PREFIX}${mode}`);
    const moreInnocents = Array.from({ length: 40 }, (_, i) => roundTrip(`after ${mode} ${i}`));
    const crashed = await crashing;
    expect(crashed).toEqual({ ok: false, code: 'KMSInternalException', message: 'The request failed because of an internal error.' });
    expect(await Promise.all([...innocents, ...moreInnocents])).toEqual(Array(80).fill(true));
  });

  it('is replaced: the pool keeps its threads and serves everything afterwards', async () => {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => roundTrip(`later ${mode} ${i}`)));
    expect(results.every(Boolean)).toBe(true);
    const stats = pool.stats();
    expect(stats.workers).toBe(WORKERS);
    expect(stats.inFlight).toBe(0);
    expect(stats.queueDepth).toBe(0);
  });
});

describe('every worker dying at once', () => {
  it('never wedges the pool', async () => {
    // A worker restart costs a module load and root key open (most of a second here): one round keeps it short.
    const crashes = Array.from({ length: WORKERS }, (_, i) => encrypt(`${CRASH_PREFIX}${i % 2 === 0 ? 'exit' : 'throw'}`));
    const innocents = Array.from({ length: 50 }, (_, i) => roundTrip(`all down ${i}`));
    expect((await Promise.all(crashes)).map(failureCode)).toEqual(Array(WORKERS).fill('KMSInternalException'));
    expect((await Promise.all(innocents)).every(Boolean)).toBe(true);
    expect(await roundTrip('still alive')).toBe(true);
    expect(pool.stats()).toMatchObject({ inFlight: 0, queueDepth: 0, workers: WORKERS });
  });
});
