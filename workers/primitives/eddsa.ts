// ECC_NIST_EDWARDS25519: ED25519_SHA_512 is pure Ed25519 (RFC 8032 section 5.1) over a RAW message, in
// node:crypto. ED25519_PH_SHA_512 is Ed25519ph over a DIGEST message, in @noble/curves (OpenSSL 3.0 and
// Node 20 have no Ed25519ph).
//
// What AWS does with the digest: the client sends SHA-512(M) (64 bytes) and KMS "still performs the SHA-512
// prehash described in Step 1 of Section 7.8.1 in FIPS 186-5. This means the input is hashed twice" (Sign API
// reference, MessageType). So the signature is Ed25519ph (RFC 8032: dom2(1, "") and PH = SHA-512) whose
// message is the 64-byte digest itself: PH(digest) = SHA-512(SHA-512(M)). That is exactly
// ed25519ph.sign(digest, seed), and any RFC 8032 Ed25519ph verifier checks it with the digest as the message.
import { sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { ed25519ph } from '@noble/curves/ed25519.js';
import type { KeySpec, MessageType, SigningAlgorithm } from '../../src/contract/key-specs.js';
import { assertDigestLength, assertMessageType, assertSigningAlgorithm, validationError, type LoadedKey } from './common.js';
import { parsePkcs8, type NodeKeyPair } from './pkcs8.js';

export interface Ed25519Key extends LoadedKey, NodeKeyPair {
  readonly family: 'ed25519';
  /** RFC 8032 32-byte private key (seed) and public key, for @noble's Ed25519ph. */
  readonly seed: Uint8Array;
  readonly publicBytes: Uint8Array;
}

export function loadEd25519Key(spec: KeySpec, material: Uint8Array): Ed25519Key {
  const pair = parsePkcs8(spec, material);
  if (pair.privateKey.asymmetricKeyType !== 'ed25519') {
    throw validationError(`Key material for ${spec} must be an Ed25519 private key.`);
  }
  const jwk = pair.privateKey.export({ format: 'jwk' });
  return {
    spec, family: 'ed25519', ...pair,
    seed: Buffer.from(jwk.d!, 'base64url'), publicBytes: Buffer.from(jwk.x!, 'base64url'),
  };
}

/** ED25519_SHA_512 takes only RAW, ED25519_PH_SHA_512 only a 64-byte DIGEST (kms-api.md section 5). */
function checkRequest(key: Ed25519Key, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array): void {
  assertSigningAlgorithm(key.spec, algorithm);
  if (algorithm === 'ED25519_SHA_512') {
    assertMessageType(algorithm, type, ['RAW']);
  } else {
    assertMessageType(algorithm, type, ['DIGEST']);
    assertDigestLength(algorithm, message);
  }
}

export function ed25519Sign(key: Ed25519Key, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array): Buffer {
  checkRequest(key, algorithm, type, message);
  if (algorithm === 'ED25519_SHA_512') return nodeSign(null, message, key.privateKey);
  return Buffer.from(ed25519ph.sign(message, key.seed));
}

export function ed25519Verify(key: Ed25519Key, algorithm: SigningAlgorithm, type: MessageType, message: Uint8Array, signature: Uint8Array): boolean {
  checkRequest(key, algorithm, type, message);
  if (signature.length !== 64) return false;
  try {
    if (algorithm === 'ED25519_SHA_512') return nodeVerify(null, message, key.publicKey, signature);
    // zip215: false = RFC 8032 / FIPS 186-5 strict encodings, as OpenSSL checks the pure variant.
    return ed25519ph.verify(signature, message, key.publicBytes, { zip215: false });
  } catch {
    return false;
  }
}
