// ML_KEM_512/768/1024 (FIPS 203): Node 20's OpenSSL 3.0 has no ML-KEM, so liboqs compiled to WebAssembly
// encapsulates and decapsulates (ml-kem-compiled.ts; @noble/post-quantum until it loads, or if it cannot) and
// @noble expands keys from their stored seeds. Encapsulate uses the public key and returns a 32-byte shared
// secret with its ciphertext; Decapsulate recovers the secret from the ciphertext with the private key. A
// ciphertext of the right length that was tampered with is not an error: FIPS 203's implicit rejection returns
// a pseudo-random secret (derived from z and the ciphertext), so a caller learns nothing from the answer; only
// a wrong length is InvalidCiphertextException (kms-api.md section 5).
// Key formats (seed-keys.ts): seed-only PKCS#8 with id-alg-ml-kem-512/768/1024 (2.16.840.1.101.3.4.4.1/2/3)
// and the 64-byte seed d || z, SPKI with the raw encapsulation key.
import { randomBytes } from 'node:crypto';
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import type { KeySpec } from '../../src/contract/key-specs.js';
import { PrimitiveError } from './common.js';
import { compiledMlKem } from './ml-kem-compiled.js';
import { decodeSeedPkcs8, encodeSeedPkcs8, expandSeed, type ExpandedSeedKey } from './seed-keys.js';

type MlKemSpec = 'ML_KEM_512' | 'ML_KEM_768' | 'ML_KEM_1024';

const PARAMETER_SETS: Record<MlKemSpec, { oid: string; impl: typeof ml_kem512 }> = {
  ML_KEM_512: { oid: '2.16.840.1.101.3.4.4.1', impl: ml_kem512 },
  ML_KEM_768: { oid: '2.16.840.1.101.3.4.4.2', impl: ml_kem768 },
  ML_KEM_1024: { oid: '2.16.840.1.101.3.4.4.3', impl: ml_kem1024 },
};

const SEED_BYTES = 64;

/** FIPS 203 decapsulation (secretKey) and encapsulation (publicBytes) keys expanded from the seed. */
export type MlKemKey = ExpandedSeedKey & { readonly family: 'ml-kem' };

const paramsOf = (spec: KeySpec) => PARAMETER_SETS[spec as MlKemSpec];

export const encodeMlKemPkcs8 = (spec: KeySpec, seed: Uint8Array): Buffer => encodeSeedPkcs8(paramsOf(spec).oid, seed);

const keyFromSeed = (spec: KeySpec, seed: Uint8Array): MlKemKey =>
  expandSeed(spec, 'ml-kem', paramsOf(spec).oid, seed, (bytes) => paramsOf(spec).impl.keygen(bytes));

export const loadMlKemKey = (spec: KeySpec, material: Uint8Array): MlKemKey =>
  keyFromSeed(spec, decodeSeedPkcs8(paramsOf(spec).oid, SEED_BYTES, spec, material));

/** A fresh key: its seed-form PKCS#8 (the stored material, or a data key pair's private key) and SPKI. */
export function generateMlKemMaterial(spec: KeySpec): { material: Buffer; publicKey: Buffer } {
  const seed = randomBytes(SEED_BYTES);
  return { material: encodeMlKemPkcs8(spec, seed), publicKey: keyFromSeed(spec, seed).spki };
}

export function mlKemEncapsulate(key: MlKemKey): { sharedSecret: Buffer; ciphertext: Buffer } {
  const compiled = compiledMlKem(key.spec);
  if (compiled) return compiled.encapsulate(key.publicBytes);
  const { cipherText, sharedSecret } = paramsOf(key.spec).impl.encapsulate(key.publicBytes);
  return { sharedSecret: Buffer.from(sharedSecret), ciphertext: Buffer.from(cipherText) };
}

export function mlKemDecapsulate(key: MlKemKey, ciphertext: Uint8Array): Buffer {
  const { impl } = paramsOf(key.spec);
  if (ciphertext.length !== impl.lengths.cipherText) {
    throw new PrimitiveError('InvalidCiphertextException', `The ciphertext is not a ${key.spec} ciphertext.`);
  }
  const compiled = compiledMlKem(key.spec);
  return compiled ? compiled.decapsulate(ciphertext, key.secretKey) : Buffer.from(impl.decapsulate(ciphertext, key.secretKey));
}
