// What the key cache drops is wiped: an asymmetric key whose private part node:crypto cannot hold as a KeyObject
// (the Ed25519 seed @noble signs pre-hashed messages with, the ML-DSA and ML-KEM expanded secret keys) sits in the
// worker's heap as plain bytes, and those bytes are zeroed when the key leaves the cache (disabled, deleted,
// rotated, expired or pushed out), not left for the garbage collector to free some day, unwiped.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KeySpec } from '../../src/contract/key-specs.js';
import type { Job, KeyRef } from '../../src/contract/tasks.js';
import { JobRunner } from '../../workers/handlers.js';
import * as primitives from '../../workers/primitives/index.js';
import { FileRootKey } from '../../workers/root-key.js';

const message = Buffer.from('wipe me');
/** Per family: a job that loads the key, and the raw private bytes its loaded key keeps outside node:crypto. */
const RAW_SECRETS: Array<[KeySpec, (key: KeyRef) => Job, (key: Record<string, unknown>) => Uint8Array]> = [
  ['ECC_NIST_EDWARDS25519', (key) => ({ op: 'sign', key, algorithm: 'ED25519_SHA_512', messageType: 'RAW', message }), (key) => key.seed as Uint8Array],
  ['ML_DSA_44', (key) => ({ op: 'sign', key, algorithm: 'ML_DSA_SHAKE_256', messageType: 'RAW', message }), (key) => key.secretKey as Uint8Array],
  ['ML_KEM_768', (key) => ({ op: 'encapsulate', key }), (key) => key.secretKey as Uint8Array],
];

async function cachedKey(runner: JobRunner, root: FileRootKey, spec: KeySpec, keyId: string, use: (key: KeyRef) => Job): Promise<Record<string, unknown>> {
  const { material } = await primitives.generateMaterial(spec);
  const ref: KeyRef = { keyId, materialId: 'a'.repeat(64), spec, wrapped: root.wrap(keyId, 'a'.repeat(64), material) };
  const { results: [result] } = await runner.runBatch([use(ref)]);
  expect(result).toMatchObject({ ok: true });
  const hit = runner.cache.getOrLoad(keyId, ref.materialId, () => { throw new Error('not cached'); });
  return hit.loaded as unknown as Record<string, unknown>;
}

describe('the key cache wipes the raw private bytes of the keys it drops', () => {
  it.each(RAW_SECRETS)('%s', async (spec, use, rawSecret) => {
    const root = new FileRootKey(randomBytes(32));
    const runner = new JobRunner(root, 10, 60_000);
    const keyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
    const secret = rawSecret(await cachedKey(runner, root, spec, keyId, use));
    expect(secret.some((byte) => byte !== 0)).toBe(true);
    runner.cache.evictKeys([keyId]);
    expect(runner.cache.size).toBe(0);
    expect(secret.every((byte) => byte === 0)).toBe(true);
  });
});
