// ML_DSA_44/65/87 (FIPS 204). Node 20's OpenSSL 3.0 has no ML-DSA, so two libraries share the work:
//   - RAW (pure ML-DSA, empty context) signs and verifies with liboqs compiled to WebAssembly
//     (ml-dsa-compiled.ts), about 10x faster than pure JS; @noble/post-quantum takes over if it cannot load.
//   - Key expansion from the stored seed and EXTERNAL_MU stay on @noble/post-quantum: liboqs-js offers
//     neither keygen from a given seed nor external-mu signing. liboqs signs with @noble's FIPS 204
//     secret-key encoding, and each verifies the other's signatures (test/primitives/ml-dsa.test.ts).
// Signing is hedged (fresh randomness per signature), FIPS 204's default, in both libraries. AWS does not
// document hedged or deterministic for KMS; hedged is what FIPS 204 recommends and what AWS-LC does by
// default, and a verifier cannot tell the difference. EXTERNAL_MU signs a caller-computed 64-byte
// mu = SHAKE256(tr || M') (FIPS 204 section 6.2 / Algorithm 7 line 6), so the same message signed RAW or
// EXTERNAL_MU verifies either way; DIGEST is not defined for ML-DSA (kms-api.md section 5.1).
//
// Key formats (RFC 9881, the IETF lamps ML-DSA certificate profile; seed-keys.ts): seed-only PKCS#8 with
// id-ml-dsa-44/65/87 (2.16.840.1.101.3.4.3.17/18/19) and a 32-byte seed, SPKI with the raw public key.
//
// Single-thread figures for both libraries: bench/micro/ml-dsa.ts; why liboqs: ml-dsa-compiled.ts.
import { randomBytes } from 'node:crypto';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import type { KeySpec, MessageType, SigningAlgorithm } from '../../src/contract/key-specs.js';
import { assertMessageType, assertSigningAlgorithm, validationError } from './common.js';
import { compiledMlDsa } from './ml-dsa-compiled.js';
import { decodeSeedPkcs8, encodeSeedPkcs8, expandSeed, type ExpandedSeedKey } from './seed-keys.js';

type MlDsaSpec = 'ML_DSA_44' | 'ML_DSA_65' | 'ML_DSA_87';

const PARAMETER_SETS: Record<MlDsaSpec, { oid: string; impl: typeof ml_dsa44 }> = {
  ML_DSA_44: { oid: '2.16.840.1.101.3.4.3.17', impl: ml_dsa44 },
  ML_DSA_65: { oid: '2.16.840.1.101.3.4.3.18', impl: ml_dsa65 },
  ML_DSA_87: { oid: '2.16.840.1.101.3.4.3.19', impl: ml_dsa87 },
};

const SEED_BYTES = 32;
const MU_BYTES = 64;

/** FIPS 204 skEncode / pkEncode of the key pair expanded from the seed (the form both libraries take). */
export type MlDsaKey = ExpandedSeedKey & { readonly family: 'ml-dsa' };

const paramsOf = (spec: KeySpec) => PARAMETER_SETS[spec as MlDsaSpec];

export const encodeMlDsaPkcs8 = (spec: KeySpec, seed: Uint8Array): Buffer => encodeSeedPkcs8(paramsOf(spec).oid, seed);
/** The 32-byte seed from seed-only PKCS#8 of this parameter set; ValidationException for anything else. */
export const decodeMlDsaPkcs8 = (spec: KeySpec, material: Uint8Array): Uint8Array =>
  decodeSeedPkcs8(paramsOf(spec).oid, SEED_BYTES, spec, material);

const keyFromSeed = (spec: KeySpec, seed: Uint8Array): MlDsaKey =>
  expandSeed(spec, 'ml-dsa', paramsOf(spec).oid, seed, (bytes) => paramsOf(spec).impl.keygen(bytes));

export const loadMlDsaKey = (spec: KeySpec, material: Uint8Array): MlDsaKey => keyFromSeed(spec, decodeMlDsaPkcs8(spec, material));

export function generateMlDsaMaterial(spec: KeySpec): { material: Buffer; publicKey: Buffer } {
  const seed = randomBytes(SEED_BYTES);
  return { material: encodeMlDsaPkcs8(spec, seed), publicKey: keyFromSeed(spec, seed).spki };
}

function checkRequest(key: MlDsaKey, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array): void {
  assertSigningAlgorithm(key.spec, algorithm);
  assertMessageType(algorithm, type, ['RAW', 'EXTERNAL_MU']);
  if (type === 'EXTERNAL_MU' && message.length !== MU_BYTES) {
    throw validationError(`External mu must be ${MU_BYTES} bytes for algorithm ${algorithm}.`);
  }
}

export function mlDsaSign(key: MlDsaKey, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array): Buffer {
  checkRequest(key, algorithm, type, message);
  const { impl } = paramsOf(key.spec);
  if (type === 'EXTERNAL_MU') return Buffer.from(impl.internal.sign(message, key.secretKey, { externalMu: true }));
  const compiled = compiledMlDsa(key.spec);
  return compiled ? compiled.sign(key.secretKey, message) : Buffer.from(impl.sign(message, key.secretKey));
}

export function mlDsaVerify(key: MlDsaKey, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array, signature: Uint8Array): boolean {
  checkRequest(key, algorithm, type, message);
  const { impl } = paramsOf(key.spec);
  if (signature.length !== impl.lengths.signature) return false;
  try {
    if (type === 'EXTERNAL_MU') return impl.internal.verify(signature, message, key.publicBytes, { externalMu: true });
    const compiled = compiledMlDsa(key.spec);
    return compiled ? compiled.verify(key.publicBytes, message, signature) : impl.verify(signature, message, key.publicBytes);
  } catch {
    return false;
  }
}
