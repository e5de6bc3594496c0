// ECDSA on ECC_NIST_P256/P384/P521 and ECC_SECG_P256K1, DER signatures (X9.62 / RFC 3279), hash fixed by
// the spec (SHA-256/384/512/256). RAW messages sign and verify in node:crypto with the hash named
// explicitly: crypto.sign(null, ...) would mean SHA-256 on every curve.
//
// MessageType DIGEST signing. node:crypto cannot ECDSA-sign a precomputed digest. Measured per core
// (bench/micro/primitives.ts, this 2-core machine): @noble/curves with prehash:false signs P-256 at ~1.2-2.2k/s;
// the path below reaches ~12k/s on P-256 and ~1.0k/s on P-384 (noble ~0.65k/s), and ties noble on P-521 and
// secp256k1, so one path serves every curve. It lets OpenSSL do the expensive, secret-dependent part: the
// nonce k and R = kG come from ECDH.generateKeys() (OpenSSL's CSPRNG draws k uniformly in [1, n-1]; the
// scalar multiplication is OpenSSL's constant-time one). The rest is s = k^-1 (z + r d) mod n in BigInt,
// with the inversion blinded by a random factor so its running time says nothing about k. BigInt arithmetic
// is not constant time; @noble/curves has the same property, so this is no weaker than the alternative.
// Every signature is a standard ECDSA signature: node's crypto.verify accepts it (test/primitives).
//
// DIGEST verification goes through @noble/curves (prehash:false) after strict DER parsing here.
import { createECDH, randomBytes, sign as nodeSign, verify as nodeVerify, type ECDH } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { KEY_SPECS, SIGNING_HASH, type KeySpec, type MessageType, type SigningAlgorithm } from '../../src/contract/key-specs.js';
import { assertDigestLength, assertMessageType, assertSigningAlgorithm, validationError, type LoadedKey } from './common.js';
import { DerError, decodeEcdsaSignature, encodeEcdsaSignature } from './der.js';
import { parsePkcs8, type NodeKeyPair } from './pkcs8.js';

type NobleCurve = typeof p256 | typeof p384 | typeof p521 | typeof secp256k1;
type EcSpec = 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'ECC_NIST_P521' | 'ECC_SECG_P256K1';

const NOBLE: Record<EcSpec, NobleCurve> = {
  ECC_NIST_P256: p256, ECC_NIST_P384: p384, ECC_NIST_P521: p521, ECC_SECG_P256K1: secp256k1,
};

export interface EcKey extends LoadedKey, NodeKeyPair {
  readonly family: 'ec';
  readonly namedCurve: string;
  readonly hash: string;
  /** Private scalar, for the DIGEST signing path. */
  readonly d: bigint;
  /** Uncompressed public point (0x04 || X || Y), for @noble verification of digests. */
  readonly publicPoint: Uint8Array;
}

const bigintOf = (bytes: Uint8Array): bigint => (bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`));

export function loadEcKey(spec: KeySpec, material: Uint8Array): EcKey {
  const info = KEY_SPECS[spec];
  const pair = parsePkcs8(spec, material);
  if (pair.privateKey.asymmetricKeyType !== 'ec' || pair.privateKey.asymmetricKeyDetails?.namedCurve !== info.namedCurve) {
    throw validationError(`Key material for ${spec} must be an EC private key on curve ${info.namedCurve}.`);
  }
  const jwk = pair.privateKey.export({ format: 'jwk' });
  const publicPoint = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return {
    spec, family: 'ec', ...pair, namedCurve: info.namedCurve!, hash: info.hash!,
    d: bigintOf(Buffer.from(jwk.d!, 'base64url')), publicPoint,
  };
}

/**
 * Throws unless the material is one key pair. PKCS#8 may carry the public point beside the private scalar and
 * OpenSSL takes it as given, so a point from another key would be what GetPublicKey publishes while Sign and
 * DeriveSharedSecret use the scalar: a key whose own signatures fail to verify. Checked when material arrives
 * (import, seed); material already stored passed this check.
 */
export function assertEcKeyPair(key: EcKey): void {
  const fieldBytes = (key.publicPoint.length - 1) / 2;
  let derived: Buffer;
  try {
    const ecdh = createECDH(key.namedCurve);
    ecdh.setPrivateKey(Buffer.from(key.d.toString(16).padStart(fieldBytes * 2, '0'), 'hex'));
    derived = ecdh.getPublicKey();
  } catch {
    derived = Buffer.alloc(0); // a scalar outside [1, n-1]
  }
  if (!derived.equals(key.publicPoint)) {
    throw validationError(`Key material for ${key.spec} holds a public key that does not belong to its private key.`);
  }
}

interface CurveMath {
  readonly n: bigint;
  readonly nBits: number;
  /** One ECDH object per curve and worker, reused as a nonce generator (a worker runs one task at a time). */
  readonly nonces: ECDH;
}

const curveMath = new Map<string, CurveMath>();
function mathFor(key: EcKey): CurveMath {
  let math = curveMath.get(key.namedCurve);
  if (!math) {
    const n = NOBLE[key.spec as EcSpec].Point.CURVE().n;
    math = { n, nBits: n.toString(2).length, nonces: createECDH(key.namedCurve) };
    curveMath.set(key.namedCurve, math);
  }
  return math;
}

/** Modular inverse by the extended Euclidean algorithm (a and m coprime, m prime here). */
function invert(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [m, a % m, 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

/** bits2int (SEC 1 section 4.1.3 step 5): the leftmost nBits bits of the digest. */
function digestToInteger(digest: Uint8Array, nBits: number): bigint {
  const z = bigintOf(digest);
  const excess = digest.length * 8 - nBits;
  return excess > 0 ? z >> BigInt(excess) : z;
}

function randomScalar(n: bigint, nBits: number): bigint {
  for (;;) {
    const candidate = bigintOf(randomBytes(Math.ceil(nBits / 8) + 8)) % n;
    if (candidate !== 0n) return candidate;
  }
}

/** ECDSA signature of a precomputed digest, as DER. See the header comment for why it is built this way. */
export function signDigest(key: EcKey, digest: Uint8Array): Buffer {
  const { n, nBits, nonces } = mathFor(key);
  const z = digestToInteger(digest, nBits);
  const fieldBytes = (key.publicPoint.length - 1) / 2;
  for (;;) {
    nonces.generateKeys();
    const k = bigintOf(nonces.getPrivateKey());
    const r = bigintOf(nonces.getPublicKey().subarray(1, 1 + fieldBytes)) % n;
    if (r === 0n) continue;
    const blind = randomScalar(n, nBits);
    const kInverse = (invert((k * blind) % n, n) * blind) % n;
    const s = (kInverse * ((z + r * key.d) % n)) % n;
    if (s === 0n) continue;
    return encodeEcdsaSignature(r, s);
  }
}

function verifyDigest(key: EcKey, digest: Uint8Array, signature: Uint8Array): boolean {
  const curve = NOBLE[key.spec as EcSpec];
  const { n } = mathFor(key);
  let r: bigint;
  let s: bigint;
  try {
    ({ r, s } = decodeEcdsaSignature(signature));
  } catch (error) {
    if (error instanceof DerError) return false;
    throw error;
  }
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  const compact = new curve.Signature(r, s).toBytes('compact');
  return curve.verify(compact, digest, key.publicPoint, { prehash: false, lowS: false, format: 'compact' });
}

function checkRequest(key: EcKey, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array): void {
  assertSigningAlgorithm(key.spec, algorithm);
  assertMessageType(algorithm, type, ['RAW', 'DIGEST']);
  if (type === 'DIGEST') assertDigestLength(algorithm, message);
}

export function ecdsaSign(key: EcKey, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array): Buffer {
  checkRequest(key, algorithm, type, message);
  if (type === 'DIGEST') return signDigest(key, message);
  return nodeSign(SIGNING_HASH[algorithm].hash!, message, { key: key.privateKey, dsaEncoding: 'der' });
}

export function ecdsaVerify(key: EcKey, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array, signature: Uint8Array): boolean {
  checkRequest(key, algorithm, type, message);
  try {
    if (type === 'DIGEST') return verifyDigest(key, message, signature);
    return nodeVerify(SIGNING_HASH[algorithm].hash!, message, { key: key.publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}
