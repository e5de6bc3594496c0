// ML-DSA RAW runs on liboqs compiled to WebAssembly (workers/primitives/ml-dsa-compiled.ts); @noble/post-quantum is the
// independent check: it expands the same seeds, verifies every compiled signature, and its signatures must
// verify through the engine. Keys come from the RFC 9881 example seed (00 01 .. 1f) and its published SPKIs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { generateMaterial, loadKey, publicKeyOf, sign, verify } from '../../workers/primitives/index.js';
import { mlDsaCompiledReady, mlDsaRawBackend } from '../../workers/primitives/ml-dsa-compiled.js';

const NOBLE = { ML_DSA_44: ml_dsa44, ML_DSA_65: ml_dsa65, ML_DSA_87: ml_dsa87 } as const;
type Spec = keyof typeof NOBLE;
const SPECS = Object.keys(NOBLE) as Spec[];

const rfc9881 = JSON.parse(readFileSync(join(PROJECT_ROOT, 'test', 'vectors', 'ml-dsa-rfc9881.json'), 'utf8')) as {
  seedHex: string;
  keys: Record<Spec, { privateKeyPkcs8Base64: string; publicKeySpkiBase64: string }>;
};
const seed = Buffer.from(rfc9881.seedHex, 'hex');

function rfcKey(spec: Spec) {
  const vector = rfc9881.keys[spec];
  const key = loadKey(spec, Buffer.from(vector.privateKeyPkcs8Base64, 'base64'));
  return { key, spki: Buffer.from(vector.publicKeySpkiBase64, 'base64'), noble: NOBLE[spec].keygen(seed) };
}

const message = Buffer.from('pure ML-DSA, empty context');

describe('compiled ML-DSA backend', () => {
  it('liboqs loads on this Node (its engines field says >= 22), so RAW does not fall back to pure JS', async () => {
    await mlDsaCompiledReady;
    expect(mlDsaRawBackend()).toBe('@oqs/liboqs-js');
  });

  it.each(SPECS)('%s: the key from the seed is the RFC 9881 key and the same pair @noble expands', (spec) => {
    const { key, spki, noble } = rfcKey(spec);
    expect(publicKeyOf(key)).toEqual(spki);
    expect(spki.subarray(spki.length - noble.publicKey.length)).toEqual(Buffer.from(noble.publicKey));
  });

  it.each(SPECS)('%s: RAW signatures are hedged FIPS 204 pure ML-DSA that @noble verifies with an empty context only', (spec) => {
    const { key, noble } = rfcKey(spec);
    const impl = NOBLE[spec];
    const first = sign(key, 'ML_DSA_SHAKE_256', 'RAW', message);
    const second = sign(key, 'ML_DSA_SHAKE_256', 'RAW', message);
    expect(first).toHaveLength(impl.lengths.signature!);
    expect(first.equals(second)).toBe(false); // fresh randomness per signature
    expect(first.equals(Buffer.from(impl.sign(message, noble.secretKey, { extraEntropy: false })))).toBe(false); // not the deterministic variant
    for (const signature of [first, second]) {
      expect(impl.verify(signature, message, noble.publicKey)).toBe(true);
      expect(impl.verify(signature, message, noble.publicKey, { context: Buffer.from('ctx') })).toBe(false);
      expect(impl.verify(signature, Buffer.from('another message'), noble.publicKey)).toBe(false);
    }
    const tampered = Buffer.from(first);
    tampered[100]! ^= 1;
    expect(impl.verify(tampered, message, noble.publicKey)).toBe(false);
  });

  it.each(SPECS)('%s: the engine verifies @noble signatures (hedged and deterministic) and rejects bad ones', (spec) => {
    const { key, noble } = rfcKey(spec);
    const impl = NOBLE[spec];
    const hedged = Buffer.from(impl.sign(message, noble.secretKey));
    const deterministic = Buffer.from(impl.sign(message, noble.secretKey, { extraEntropy: false }));
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, hedged)).toBe(true);
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, deterministic)).toBe(true);
    const withContext = Buffer.from(impl.sign(message, noble.secretKey, { context: Buffer.from('ctx') }));
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, withContext)).toBe(false);
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', Buffer.from('another message'), hedged)).toBe(false);
    const tampered = Buffer.from(hedged);
    tampered[tampered.length - 1]! ^= 0x80; // the hint section: malformed encodings are rejected, not accepted
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, tampered)).toBe(false);
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, Buffer.concat([hedged, Buffer.alloc(1)]))).toBe(false);
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, Buffer.alloc(hedged.length))).toBe(false);
  });

  it('signs message views at an offset, 1 byte and the 4096-byte maximum, for freshly generated keys', async () => {
    const { material, publicKey } = await generateMaterial('ML_DSA_65');
    const key = loadKey('ML_DSA_65', material);
    const publicRaw = publicKey!.subarray(publicKey!.length - ml_dsa65.lengths.publicKey!);
    const backing = Buffer.alloc(5000, 0x5a);
    backing.write('offset view', 17);
    for (const input of [backing.subarray(17, 17 + 300), new Uint8Array([7]), new Uint8Array(backing.buffer, backing.byteOffset + 3, 4096)]) {
      const signature = sign(key, 'ML_DSA_SHAKE_256', 'RAW', input);
      expect(ml_dsa65.verify(signature, Uint8Array.from(input), publicRaw)).toBe(true);
      expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', input, signature)).toBe(true);
    }
  });

  it('a signature under one key does not verify under another key of the same parameter set', async () => {
    const { key } = rfcKey('ML_DSA_44');
    const other = loadKey('ML_DSA_44', (await generateMaterial('ML_DSA_44')).material);
    const signature = sign(key, 'ML_DSA_SHAKE_256', 'RAW', message);
    expect(verify(other, 'ML_DSA_SHAKE_256', 'RAW', message, signature)).toBe(false);
    expect(verify(key, 'ML_DSA_SHAKE_256', 'RAW', message, signature)).toBe(true);
  });
});
