// Facade over every asymmetric, HMAC and key-agreement primitive the worker runs. The worker's handlers call
// only these functions; each family lives in its own file beside this one and this file only dispatches on
// the key spec's family (src/contract/key-specs.ts). Implementations throw PrimitiveError with a KMS error
// code; the worker turns it into a { ok: false, code, message } result. SYMMETRIC_DEFAULT is workers/symmetric.ts.
import {
  KEY_SPECS, type DataKeyPairSpec, type EncryptionAlgorithm, type KeySpec, type MacAlgorithm, type MessageType,
  type SigningAlgorithm,
} from '../../src/contract/key-specs.js';
import { PrimitiveError, type LoadedKey } from './common.js';
import { deriveEcdhSecret } from './ecdh.js';
import { assertEcKeyPair, ecdsaSign, ecdsaVerify, loadEcKey, type EcKey } from './ecdsa.js';
import { ed25519Sign, ed25519Verify, loadEd25519Key, type Ed25519Key } from './eddsa.js';
import { generateHmacMaterial, hmac, loadHmacKey, validateHmacMaterial, type HmacKey } from './hmac.js';
import { generateMlDsaMaterial, loadMlDsaKey, mlDsaSign, mlDsaVerify, type MlDsaKey } from './ml-dsa.js';
import { generateMlKemMaterial, loadMlKemKey, mlKemDecapsulate, mlKemEncapsulate, type MlKemKey } from './ml-kem.js';
import { generateDerKeyPair } from './pkcs8.js';
import { assertEmbeddedPublicKey } from './seed-keys.js';
import {
  assertRsaKeyPair, generateRsaPair, loadRsaKey, rsaDecrypt as rsaOaepDecrypt, rsaEncrypt as rsaOaepEncrypt, rsaSign, rsaVerify,
  type RsaKey,
} from './rsa.js';

export { PrimitiveError, type LoadedKey } from './common.js';

type AnyKey = HmacKey | RsaKey | EcKey | Ed25519Key | MlDsaKey | MlKemKey;

const unsupported = (spec: KeySpec): PrimitiveError =>
  new PrimitiveError('UnsupportedOperationException', `This operation is not supported for key spec ${spec}.`);

const familyOf = (spec: KeySpec) => KEY_SPECS[spec].family;

/** New key material: raw bytes for HMAC, DER PKCS#8 PrivateKeyInfo for asymmetric specs; SPKI DER public key. */
export async function generateMaterial(spec: KeySpec): Promise<{ material: Buffer; publicKey?: Buffer }> {
  switch (familyOf(spec)) {
    case 'hmac': return { material: generateHmacMaterial(spec) };
    case 'ml-dsa': return generateMlDsaMaterial(spec);
    case 'ml-kem': return generateMlKemMaterial(spec);
    case 'rsa': case 'ec': case 'ed25519': {
      const { privateKey, publicKey } = await generateAsymmetricPair(spec);
      return { material: privateKey, publicKey };
    }
    case 'symmetric': throw unsupported(spec);
  }
}

/**
 * Checks imported/seeded material is of the spec's type and size, and that its private and public halves are one
 * key pair (EC, RSA, and ML-DSA/ML-KEM material that carries a public key); throws PrimitiveError('ValidationException').
 */
export function validateMaterial(spec: KeySpec, material: Uint8Array): void {
  if (familyOf(spec) === 'hmac') return validateHmacMaterial(spec, material);
  const key = loadKey(spec, material) as AnyKey;
  if (key.family === 'ec') assertEcKeyPair(key);
  else if (key.family === 'rsa') assertRsaKeyPair(key);
  else if (key.family === 'ml-dsa' || key.family === 'ml-kem') assertEmbeddedPublicKey(key, material);
}

/** Parses once: the result holds KeyObjects and whatever raw bytes @noble needs, for the worker's key cache. */
export function loadKey(spec: KeySpec, material: Uint8Array): LoadedKey {
  switch (familyOf(spec)) {
    case 'hmac': return loadHmacKey(spec, material);
    case 'rsa': return loadRsaKey(spec, material);
    case 'ec': return loadEcKey(spec, material);
    case 'ed25519': return loadEd25519Key(spec, material);
    case 'ml-dsa': return loadMlDsaKey(spec, material);
    case 'ml-kem': return loadMlKemKey(spec, material);
    case 'symmetric': throw unsupported(spec);
  }
}

export function publicKeyOf(key: LoadedKey): Buffer {
  const loaded = key as AnyKey;
  if (loaded.family === 'hmac') throw unsupported(key.spec);
  return loaded.spki;
}

export function sign(key: LoadedKey, alg: SigningAlgorithm, type: MessageType, message: Uint8Array): Buffer {
  const loaded = key as AnyKey;
  switch (loaded.family) {
    case 'rsa': return rsaSign(loaded, alg, type, message);
    case 'ec': return ecdsaSign(loaded, alg, type, message);
    case 'ed25519': return ed25519Sign(loaded, alg, type, message);
    case 'ml-dsa': return mlDsaSign(loaded, alg, type, message);
    case 'hmac': case 'ml-kem': throw invalidUsage(key.spec, 'signing');
  }
}

/** False for a signature that does not verify (also malformed ones); throws only for invalid requests. */
export function verify(key: LoadedKey, alg: SigningAlgorithm, type: MessageType, message: Uint8Array, signature: Uint8Array): boolean {
  const loaded = key as AnyKey;
  switch (loaded.family) {
    case 'rsa': return rsaVerify(loaded, alg, type, message, signature);
    case 'ec': return ecdsaVerify(loaded, alg, type, message, signature);
    case 'ed25519': return ed25519Verify(loaded, alg, type, message, signature);
    case 'ml-dsa': return mlDsaVerify(loaded, alg, type, message, signature);
    case 'hmac': case 'ml-kem': throw invalidUsage(key.spec, 'signing');
  }
}

export function rsaEncrypt(key: LoadedKey, alg: EncryptionAlgorithm, plaintext: Uint8Array): Buffer {
  return rsaOaepEncrypt(asRsa(key), alg, plaintext);
}

export function rsaDecrypt(key: LoadedKey, alg: EncryptionAlgorithm, ciphertext: Uint8Array): Buffer {
  return rsaOaepDecrypt(asRsa(key), alg, ciphertext);
}

export function generateMac(key: LoadedKey, alg: MacAlgorithm, message: Uint8Array): Buffer {
  const loaded = key as AnyKey;
  if (loaded.family !== 'hmac') throw invalidUsage(key.spec, 'MAC');
  return hmac(loaded, alg, message);
}

export function deriveSharedSecret(key: LoadedKey, peerSpki: Uint8Array): Buffer {
  const loaded = key as AnyKey;
  if (loaded.family !== 'ec') throw invalidUsage(key.spec, 'key agreement');
  return deriveEcdhSecret(loaded, peerSpki);
}

export function encapsulate(key: LoadedKey): { sharedSecret: Buffer; ciphertext: Buffer } {
  return mlKemEncapsulate(asMlKem(key));
}

export function decapsulate(key: LoadedKey, ciphertext: Uint8Array): Buffer {
  return mlKemDecapsulate(asMlKem(key), ciphertext);
}

/**
 * Zeroes the private bytes a loaded key holds in the JavaScript heap: the Ed25519 seed (for @noble's Ed25519ph)
 * and the ML-DSA/ML-KEM expanded secret keys. Called when the key cache drops the key; the key is unusable after.
 * RSA, EC and HMAC keys live in node:crypto KeyObjects (native memory, released to the GC; an EC key's scalar
 * copy is a bigint, which cannot be overwritten).
 */
export function wipeKey(key: LoadedKey): void {
  const loaded = key as AnyKey;
  switch (loaded.family) {
    case 'ed25519': loaded.seed.fill(0); return;
    case 'ml-dsa': case 'ml-kem': loaded.secretKey.fill(0); return;
    case 'rsa': case 'ec': case 'hmac': return;
  }
}

/** A fresh PKCS#8 DER private key and SPKI DER public key (RSA pairs come from the worker's ahead-of-time pool). */
export async function generateDataKeyPair(spec: DataKeyPairSpec): Promise<{ privateKey: Buffer; publicKey: Buffer }> {
  return generateAsymmetricPair(spec);
}

async function generateAsymmetricPair(spec: KeySpec): Promise<{ privateKey: Buffer; publicKey: Buffer }> {
  const info = KEY_SPECS[spec];
  switch (info.family) {
    case 'rsa': return generateRsaPair(spec);
    case 'ec': return generateDerKeyPair({ type: 'ec', namedCurve: info.namedCurve! });
    case 'ed25519': return generateDerKeyPair({ type: 'ed25519' });
    case 'ml-kem': {
      const { material, publicKey } = generateMlKemMaterial(spec);
      return { privateKey: material, publicKey };
    }
    default: throw unsupported(spec);
  }
}

function asRsa(key: LoadedKey): RsaKey {
  const loaded = key as AnyKey;
  if (loaded.family !== 'rsa') throw invalidUsage(key.spec, 'RSA encryption');
  return loaded;
}

function asMlKem(key: LoadedKey): MlKemKey {
  const loaded = key as AnyKey;
  if (loaded.family !== 'ml-kem') throw invalidUsage(key.spec, 'key encapsulation');
  return loaded;
}

const invalidUsage = (spec: KeySpec, what: string): PrimitiveError =>
  new PrimitiveError('InvalidKeyUsageException', `Key spec ${spec} cannot be used for ${what}.`);
