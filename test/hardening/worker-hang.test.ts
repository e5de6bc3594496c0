// A crypto job that never comes back from its worker thread (a deadlock, a loop) must not hold its request, and
// the jobs that shared the thread with it, forever: past the pool's job deadline the thread is terminated
// (Piscina replaces it), the bystanders are retried and succeed, and the stuck job fails as KMSInternalException.
// The pool runs the real crypto worker through a test stand-in (hang-worker.ts) that hangs on a marked plaintext,
// loaded with CryptoPool's workerFile option: production code has no hang hook. Needs `npm run build`.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyRef } from '../../src/contract/tasks.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { CryptoPool } from '../../src/pool/crypto-pool.js';
import { HANG_PREFIX, type HangMode } from './hang-marker.js';

const HANG_WORKER_FILE = join(PROJECT_ROOT, 'dist', 'test', 'hardening', 'hang-worker.js');
const WORKERS = 2;
/** Short, so the test is quick; the stuck job waits for it twice (its first run, then its retry alone). */
const JOB_TIMEOUT_MS = 1_500;

let dir: string;
let pool: CryptoPool;
let key: KeyRef;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kms-worker-hang-'));
  const rootKeyFile = join(dir, 'root.key');
  writeFileSync(rootKeyFile, randomBytes(32), { mode: 0o600 });
  pool = new CryptoPool({
    workers: WORKERS, batchSize: 32, maxQueuedJobs: 10_000, workerFile: HANG_WORKER_FILE, jobTimeoutMs: JOB_TIMEOUT_MS,
    rootKeys: { current: { kind: 'file', path: rootKeyFile, variable: 'KMS_ROOT_KEY_FILE' } },
  });
  await pool.whenLoaded();
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

describe.each<HangMode>(['never', 'spin'])('a job that never answers (%s)', (mode) => {
  it('fails as KMSInternalException past the deadline; the jobs batched with it succeed', async () => {
    // Submitted in one event-loop turn, these travel in shared batches with the stuck job.
    const innocents = Array.from({ length: 40 }, (_, i) => roundTrip(`innocent ${mode} ${i}`));
    const stuck = encrypt(`${HANG_PREFIX}${mode}`);
    const moreInnocents = Array.from({ length: 40 }, (_, i) => roundTrip(`after ${mode} ${i}`));
    expect(await stuck).toEqual({ ok: false, code: 'KMSInternalException', message: 'The request failed because of an internal error.' });
    expect(await Promise.all([...innocents, ...moreInnocents])).toEqual(Array(80).fill(true));
  }, 30_000);

  it('leaves the pool whole: its threads replaced, nothing left in flight', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => roundTrip(`later ${mode} ${i}`)));
    expect(results.every(Boolean)).toBe(true);
    expect(pool.stats()).toMatchObject({ inFlight: 0, queueDepth: 0, workers: WORKERS });
  }, 30_000);
});
