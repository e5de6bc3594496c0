// RSA_2048/3072/4096: RSASSA-PKCS1-v1_5 and RSASSA-PSS (salt = hash length) signatures, RSAES-OAEP
// (MGF1 with the same hash, empty label) encryption, all on node:crypto.
//
// MessageType DIGEST: node:crypto cannot sign a precomputed digest through crypto.sign, so the padding is
// built here and only the raw RSA private operation runs in OpenSSL (with its blinding):
//   PKCS#1 v1.5: privateEncrypt(RSA_PKCS1_PADDING) of DigestInfo || digest, which is exactly EMSA-PKCS1-v1_5.
//   PSS: EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) in JS, then privateEncrypt(RSA_NO_PADDING).
// Measured in bench/micro/primitives.ts (RSA-2048): PKCS#1 v1.5 DIGEST runs as fast as crypto.sign; PSS DIGEST
// about 25-30% slower (the JS MGF1 and hashing), still far above any pure-JS RSA.
import {
  constants, createHash, privateDecrypt, privateEncrypt, publicDecrypt, publicEncrypt, randomBytes, sign as nodeSign,
  timingSafeEqual, verify as nodeVerify, type KeyObject,
} from 'node:crypto';
import {
  KEY_SPECS, SIGNING_HASH, rsaOaepMaxPlaintext, type EncryptionAlgorithm, type KeySpec, type MessageType,
  type SigningAlgorithm,
} from '../../src/contract/key-specs.js';
import {
  PrimitiveError, assertDigestLength, assertMessageType, assertSigningAlgorithm, validationError, type LoadedKey,
} from './common.js';
import { parsePkcs8, type NodeKeyPair } from './pkcs8.js';
import { rsaKeyPairPool, type RsaBits } from './rsa-pool.js';

export interface RsaKey extends LoadedKey, NodeKeyPair {
  readonly family: 'rsa';
  /** Modulus length in bytes (k): signature and ciphertext length. */
  readonly modulusBytes: number;
}

type Hash = 'sha256' | 'sha384' | 'sha512';

/** DER prefix of DigestInfo { AlgorithmIdentifier { hash OID, NULL }, OCTET STRING digest } (RFC 8017 9.2). */
const DIGEST_INFO_PREFIX: Record<Hash, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

export function loadRsaKey(spec: KeySpec, material: Uint8Array): RsaKey {
  const pair = parsePkcs8(spec, material);
  const bits = KEY_SPECS[spec].sizeBytes * 8;
  // 'rsa-pss' keys (restricted to PSS) are a different type: KMS RSA keys do both paddings and OAEP.
  if (pair.privateKey.asymmetricKeyType !== 'rsa') {
    throw validationError(`Key material for ${spec} must be an RSA private key.`);
  }
  if (pair.privateKey.asymmetricKeyDetails?.modulusLength !== bits) {
    throw validationError(`Key material for ${spec} must be an RSA key with a ${bits}-bit modulus.`);
  }
  return { spec, family: 'rsa', ...pair, modulusBytes: bits / 8 };
}

/**
 * Throws unless the material is one working key pair: a pairwise test (sign, then verify with the public half).
 * PKCS#8 holds the modulus and the private exponent and primes side by side and OpenSSL does not check them
 * against each other, so material whose modulus is another key's imported and published a public key that none
 * of the key's signatures verified under and no ciphertext under it decrypted. Checked when material arrives
 * (import, seed); material already stored passed this check.
 */
export function assertRsaKeyPair(key: RsaKey): void {
  const probe = Buffer.from('kms-engine pairwise consistency test');
  let consistent: boolean;
  try {
    consistent = nodeVerify('sha256', probe, key.publicKey, nodeSign('sha256', probe, key.privateKey));
  } catch {
    consistent = false;
  }
  if (!consistent) throw validationError(`Key material for ${key.spec} is not a consistent RSA key pair.`);
}

export async function generateRsaPair(spec: KeySpec): Promise<{ privateKey: Buffer; publicKey: Buffer }> {
  return rsaKeyPairPool().take((KEY_SPECS[spec].sizeBytes * 8) as RsaBits);
}

const isPss = (algorithm: SigningAlgorithm): boolean => algorithm.startsWith('RSASSA_PSS_');

function signingParams(algorithm: SigningAlgorithm): { hash: Hash; hLen: number; pss: boolean } {
  const { hash, digestBytes } = SIGNING_HASH[algorithm];
  return { hash: hash as Hash, hLen: digestBytes, pss: isPss(algorithm) };
}

function nodePadding(key: KeyObject, pss: boolean, hLen: number) {
  return pss
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hLen }
    : { key, padding: constants.RSA_PKCS1_PADDING };
}

export function rsaSign(key: RsaKey, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array): Buffer {
  assertSigningAlgorithm(key.spec, algorithm);
  assertMessageType(algorithm, type, ['RAW', 'DIGEST']);
  const { hash, hLen, pss } = signingParams(algorithm);
  if (type === 'RAW') return nodeSign(hash, message, nodePadding(key.privateKey, pss, hLen));
  assertDigestLength(algorithm, message);
  if (!pss) {
    return privateEncrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([DIGEST_INFO_PREFIX[hash], message]));
  }
  const encoded = emsaPssEncode(hash, message, key.modulusBytes * 8 - 1, randomBytes(hLen));
  return privateEncrypt({ key: key.privateKey, padding: constants.RSA_NO_PADDING }, encoded);
}

/** False for any signature that does not verify, including ones of the wrong length or not below n. */
export function rsaVerify(key: RsaKey, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array, signature: Uint8Array): boolean {
  assertSigningAlgorithm(key.spec, algorithm);
  assertMessageType(algorithm, type, ['RAW', 'DIGEST']);
  const { hash, hLen, pss } = signingParams(algorithm);
  if (type === 'DIGEST') assertDigestLength(algorithm, message);
  if (signature.length !== key.modulusBytes) return false;
  try {
    if (type === 'RAW') return nodeVerify(hash, message, nodePadding(key.publicKey, pss, hLen), signature);
    if (!pss) {
      const recovered = publicDecrypt({ key: key.publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      const expected = Buffer.concat([DIGEST_INFO_PREFIX[hash], message]);
      return recovered.length === expected.length && timingSafeEqual(recovered, expected);
    }
    const encoded = publicDecrypt({ key: key.publicKey, padding: constants.RSA_NO_PADDING }, signature);
    return emsaPssVerify(hash, message, encoded, key.modulusBytes * 8 - 1, hLen);
  } catch {
    return false;
  }
}

function mgf1(hash: Hash, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let produced = 0, i = 0; produced < length; i++) {
    counter.writeUInt32BE(i);
    const block = createHash(hash).update(seed).update(counter).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

const PSS_PADDING1 = Buffer.alloc(8);

/** EMSA-PSS-ENCODE (RFC 8017 section 9.1.1) of an already-hashed message, into a k-byte block for RSA_NO_PADDING. */
export function emsaPssEncode(hash: Hash, mHash: Uint8Array, emBits: number, salt: Buffer): Buffer {
  const hLen = mHash.length;
  const emLen = Math.ceil(emBits / 8);
  const h = createHash(hash).update(PSS_PADDING1).update(mHash).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[db.length - salt.length - 1] = 0x01;
  salt.copy(db, db.length - salt.length);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  // RSA_NO_PADDING wants exactly k bytes; when emBits is a multiple of 8 the block carries a leading zero.
  const k = Math.ceil((emBits + 1) / 8);
  return em.length === k ? em : Buffer.concat([Buffer.alloc(k - em.length), em]);
}

/** EMSA-PSS-VERIFY (RFC 8017 section 9.1.2) with sLen = hLen, on the k-byte block from RSA_NO_PADDING. */
function emsaPssVerify(hash: Hash, mHash: Uint8Array, block: Buffer, emBits: number, sLen: number): boolean {
  const emLen = Math.ceil(emBits / 8);
  const hLen = mHash.length;
  if (block.length < emLen || block.subarray(0, block.length - emLen).some((b) => b !== 0)) return false;
  const em = block.subarray(block.length - emLen);
  if (em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >> (8 * emLen - emBits);
  if (maskedDb[0]! & ~topMask) return false;
  const db = mgf1(hash, h, maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= maskedDb[i]!;
  db[0]! &= topMask;
  const psLen = emLen - hLen - sLen - 2;
  if (db.subarray(0, psLen).some((b) => b !== 0) || db[psLen] !== 0x01) return false;
  const salt = db.subarray(db.length - sLen);
  const expected = createHash(hash).update(PSS_PADDING1).update(mHash).update(salt).digest();
  return timingSafeEqual(expected, h);
}

function oaepHash(key: RsaKey, algorithm: EncryptionAlgorithm): 'sha1' | 'sha256' {
  if (!KEY_SPECS[key.spec].encryptionAlgorithms?.includes(algorithm)) {
    throw new PrimitiveError('InvalidKeyUsageException',
      `Algorithm ${algorithm} is incompatible with key spec ${key.spec}.`);
  }
  return algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256';
}

export function rsaEncrypt(key: RsaKey, algorithm: EncryptionAlgorithm, plaintext: Uint8Array): Buffer {
  const hash = oaepHash(key, algorithm);
  const max = rsaOaepMaxPlaintext(KEY_SPECS[key.spec], algorithm);
  if (plaintext.length > max) {
    // The same words as the main thread's check (src/operations/crypto-common.ts): ReEncrypt only meets the limit here.
    throw validationError(`Algorithm ${algorithm} and key spec ${key.spec} cannot encrypt data larger than ${max} bytes.`);
  }
  return publicEncrypt({ key: key.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, plaintext);
}

export function rsaDecrypt(key: RsaKey, algorithm: EncryptionAlgorithm, ciphertext: Uint8Array): Buffer {
  const hash = oaepHash(key, algorithm);
  if (ciphertext.length !== key.modulusBytes) {
    throw new PrimitiveError('InvalidCiphertextException', 'The ciphertext is invalid for this key.');
  }
  try {
    return privateDecrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ciphertext);
  } catch {
    throw new PrimitiveError('InvalidCiphertextException', 'The ciphertext is invalid for this key.');
  }
}
