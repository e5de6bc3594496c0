// ML-KEM encapsulation runs on liboqs compiled to WebAssembly (workers/primitives/ml-kem-compiled.ts);
// @noble/post-quantum is the independent check: it expands the same seed, opens every compiled encapsulation,
// its encapsulations open through the engine's primitive, and both answer a tampered ciphertext with the same
// implicit-rejection secret.
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it } from 'vitest';
import { decapsulate, encapsulate, generateMaterial, loadKey, publicKeyOf } from '../../workers/primitives/index.js';
import { mlKemBackend, mlKemCompiledReady } from '../../workers/primitives/ml-kem-compiled.js';
import { encodeMlKemPkcs8 } from '../../workers/primitives/ml-kem.js';
import { codeOf } from './helpers.js';

const NOBLE = { ML_KEM_512: ml_kem512, ML_KEM_768: ml_kem768, ML_KEM_1024: ml_kem1024 } as const;
type Spec = keyof typeof NOBLE;
const SPECS = Object.keys(NOBLE) as Spec[];
/** FIPS 203's d || z; any fixed 64 bytes give a reproducible key both libraries must agree on. */
const seed = Buffer.from(Array.from({ length: 64 }, (_, i) => i));

describe('compiled ML-KEM backend', () => {
  it('liboqs loads on this Node, so encapsulation does not fall back to pure JS', async () => {
    await mlKemCompiledReady;
    expect(mlKemBackend()).toBe('@oqs/liboqs-js');
  });

  it.each(SPECS)('%s: the key from the seed is the pair @noble expands, and each library opens the other\'s encapsulations', async (spec) => {
    await mlKemCompiledReady;
    const key = loadKey(spec, encodeMlKemPkcs8(spec, seed));
    const noble = NOBLE[spec].keygen(seed);
    const spki = publicKeyOf(key);
    expect(spki.subarray(spki.length - noble.publicKey.length)).toEqual(Buffer.from(noble.publicKey));

    const sealed = encapsulate(key);
    expect(sealed.ciphertext).toHaveLength(NOBLE[spec].lengths.cipherText!);
    expect(Buffer.from(NOBLE[spec].decapsulate(sealed.ciphertext, noble.secretKey))).toEqual(sealed.sharedSecret);
    const { cipherText, sharedSecret } = NOBLE[spec].encapsulate(noble.publicKey);
    expect(decapsulate(key, cipherText)).toEqual(Buffer.from(sharedSecret));

    const tampered = Buffer.from(cipherText);
    tampered[0]! ^= 0x80;
    const rejected = decapsulate(key, tampered);
    expect(rejected).toEqual(Buffer.from(NOBLE[spec].decapsulate(tampered, noble.secretKey)));
    expect(rejected).not.toEqual(Buffer.from(sharedSecret));
    expect(codeOf(() => decapsulate(key, tampered.subarray(1)))).toBe('InvalidCiphertextException');
  });

  it('refuses seed material of the wrong length or another algorithm, and other families', async () => {
    expect(codeOf(() => loadKey('ML_KEM_768', encodeMlKemPkcs8('ML_KEM_768', seed.subarray(0, 32))))).toBe('ValidationException');
    expect(codeOf(() => loadKey('ML_KEM_768', encodeMlKemPkcs8('ML_KEM_512', seed)))).toBe('ValidationException');
    const { material } = await generateMaterial('ML_DSA_44');
    expect(codeOf(() => encapsulate(loadKey('ML_DSA_44', material)))).toBe('InvalidKeyUsageException');
  });
});
