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
// Key formats (RFC 9881, the IETF lamps ML-DSA certificate profile): PKCS#8 PrivateKeyInfo with algorithm
// id-ml-dsa-44/65/87 (2.16.840.1.101.3.4.3.17/18/19, parameters absent) and privateKey = OCTET STRING
// wrapping the seed-only choice `seed [0] IMPLICIT OCTET STRING (SIZE (32))`; SPKI with the same OID and the
// raw public key as the BIT STRING. The seed is what we store: keygen(seed) is deterministic.
//
// Single-thread figures for both libraries: bench/micro/ml-dsa.ts; why liboqs: ml-dsa-compiled.ts.
import { randomBytes } from 'node:crypto';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import type { KeySpec, MessageType, SigningAlgorithm } from '../../src/contract/key-specs.js';
import { assertMessageType, assertSigningAlgorithm, validationError, type LoadedKey } from './common.js';
import { DerError, TAG, encodeOid, encodeTlv, readChildren, readOnly } from './der.js';
import { compiledMlDsa } from './ml-dsa-compiled.js';

type MlDsaSpec = 'ML_DSA_44' | 'ML_DSA_65' | 'ML_DSA_87';

const PARAMETER_SETS: Record<MlDsaSpec, { oid: string; impl: typeof ml_dsa44 }> = {
  ML_DSA_44: { oid: '2.16.840.1.101.3.4.3.17', impl: ml_dsa44 },
  ML_DSA_65: { oid: '2.16.840.1.101.3.4.3.18', impl: ml_dsa65 },
  ML_DSA_87: { oid: '2.16.840.1.101.3.4.3.19', impl: ml_dsa87 },
};

const SEED_BYTES = 32;
const MU_BYTES = 64;
/** Context tag [0] IMPLICIT, primitive: the seed choice of ML-DSA-PrivateKey. */
const SEED_TAG = 0x80;

export interface MlDsaKey extends LoadedKey {
  readonly family: 'ml-dsa';
  /** FIPS 204 skEncode / pkEncode of the key pair expanded from the seed (the form both libraries take). */
  readonly secretKey: Uint8Array;
  readonly publicBytes: Uint8Array;
  readonly spki: Buffer;
}

const paramsOf = (spec: KeySpec) => PARAMETER_SETS[spec as MlDsaSpec];
const algorithmIdentifier = (spec: KeySpec): Buffer => encodeTlv(TAG.SEQUENCE, encodeOid(paramsOf(spec).oid));

export function encodeMlDsaPkcs8(spec: KeySpec, seed: Uint8Array): Buffer {
  return encodeTlv(TAG.SEQUENCE,
    Buffer.from([TAG.INTEGER, 1, 0]),
    algorithmIdentifier(spec),
    encodeTlv(TAG.OCTET_STRING, encodeTlv(SEED_TAG, seed)));
}

export function encodeMlDsaSpki(spec: KeySpec, publicKey: Uint8Array): Buffer {
  return encodeTlv(TAG.SEQUENCE, algorithmIdentifier(spec), encodeTlv(TAG.BIT_STRING, Buffer.from([0]), publicKey));
}

/** The 32-byte seed from seed-only PKCS#8 of this parameter set; ValidationException for anything else. */
export function decodeMlDsaPkcs8(spec: KeySpec, material: Uint8Array): Uint8Array {
  try {
    const [version, algorithm, privateKey, ...rest] = readChildren(readOnly(material, TAG.SEQUENCE));
    if (!version || !algorithm || !privateKey || rest.some((attr) => attr.tag !== 0xa0 && attr.tag !== 0x81)) {
      throw new DerError('not a PrivateKeyInfo');
    }
    if (version.tag !== TAG.INTEGER || version.value.length !== 1 || version.value[0]! > 1) throw new DerError('bad version');
    if (algorithm.tag !== TAG.SEQUENCE || !algorithm.value.equals(encodeOid(paramsOf(spec).oid))) {
      throw new DerError('wrong algorithm');
    }
    if (privateKey.tag !== TAG.OCTET_STRING) throw new DerError('bad privateKey');
    const seed = readOnly(privateKey.value, SEED_TAG);
    if (seed.length !== SEED_BYTES) throw new DerError('bad seed length');
    return seed;
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
    throw validationError(`Key material for ${spec} must be a DER PKCS#8 ${spec} private key in the 32-byte seed form.`);
  }
}

function keyFromSeed(spec: KeySpec, seed: Uint8Array): MlDsaKey {
  const { secretKey, publicKey } = paramsOf(spec).impl.keygen(seed);
  return { spec, family: 'ml-dsa', secretKey, publicBytes: publicKey, spki: encodeMlDsaSpki(spec, publicKey) };
}

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
