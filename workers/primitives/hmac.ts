// HMAC_224/256/384/512 (RFC 2104) on node:crypto. Material is the raw key bytes.
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { KEY_SPECS, type KeySpec, type MacAlgorithm } from '../../src/contract/key-specs.js';
import { PrimitiveError, validationError, type LoadedKey } from './common.js';

export interface HmacKey extends LoadedKey {
  readonly family: 'hmac';
  readonly hash: string;
  readonly secret: KeyObject;
}

/**
 * Key lengths accepted for imported HMAC material: from the spec's size (= hash output) up to the hash's
 * block size (64 bytes for SHA-224/256, 128 for SHA-384/512). AWS documents the same ranges for
 * ImportKeyMaterial; longer keys would only be hashed down by HMAC itself.
 */
export function hmacKeyLengthRange(spec: KeySpec): { min: number; max: number } {
  const info = KEY_SPECS[spec];
  return { min: info.sizeBytes, max: info.sizeBytes <= 32 ? 64 : 128 };
}

export function validateHmacMaterial(spec: KeySpec, material: Uint8Array): void {
  const { min, max } = hmacKeyLengthRange(spec);
  if (material.length < min || material.length > max) {
    throw validationError(`Key material for ${spec} must be between ${min} and ${max} bytes long.`);
  }
}

export function generateHmacMaterial(spec: KeySpec): Buffer {
  return randomBytes(KEY_SPECS[spec].sizeBytes);
}

export function loadHmacKey(spec: KeySpec, material: Uint8Array): HmacKey {
  validateHmacMaterial(spec, material);
  return { spec, family: 'hmac', hash: KEY_SPECS[spec].hash!, secret: createSecretKey(material) };
}

export function hmac(key: HmacKey, algorithm: MacAlgorithm, message: Uint8Array): Buffer {
  if (!KEY_SPECS[key.spec].macAlgorithms?.includes(algorithm)) {
    throw new PrimitiveError('InvalidKeyUsageException',
      `Algorithm ${algorithm} is incompatible with key spec ${key.spec}.`);
  }
  return createHmac(key.hash, key.secret).update(message).digest();
}
