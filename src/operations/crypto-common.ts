// Rules shared by the encryption-family operations (Encrypt, Decrypt, ReEncrypt, GenerateDataKey*).
import type { EncryptionContext } from '../contract/encryption-context.js';
import { KEY_SPECS, rsaOaepMaxPlaintext, type EncryptionAlgorithm, type KeySpecInfo } from '../contract/key-specs.js';
import type { SealTarget } from '../contract/tasks.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';
import { keyRef, requireUsage } from './context.js';

/** Cryptographic operations consume the key type's shared request quota (kms-api.md section 9). */
export const cryptoQuota = (info: KeySpecInfo): readonly string[] => [info.quotaClass];

export function contextOf(input: Record<string, unknown>, member = 'EncryptionContext'): EncryptionContext | undefined {
  const context = input[member] as Record<string, string> | undefined;
  return context === undefined || Object.keys(context).length === 0 ? undefined : context;
}

/**
 * The algorithm to use with an encryption key: SYMMETRIC_DEFAULT by default (the model's default, so an RSA key
 * named without an algorithm is InvalidKeyUsageException, as in AWS), and only one the key supports.
 */
export function encryptionAlgorithmFor(key: KeyRecord, requested: unknown, operation: string): EncryptionAlgorithm {
  requireUsage(key, 'ENCRYPT_DECRYPT', operation);
  const info = KEY_SPECS[key.spec];
  const algorithm = (requested ?? 'SYMMETRIC_DEFAULT') as EncryptionAlgorithm;
  if (!info.encryptionAlgorithms?.includes(algorithm)) {
    // AWS's words for it.
    throw new KmsError('InvalidKeyUsageException', `Algorithm ${algorithm} is incompatible with key spec ${key.spec}.`);
  }
  return algorithm;
}

/** Where new ciphertext goes: the key's current material (symmetric) or its public key (RSA). */
export function sealTarget(key: KeyRecord, algorithm: EncryptionAlgorithm, context: EncryptionContext | undefined,
  plaintextBytes: number): SealTarget {
  if (algorithm === 'SYMMETRIC_DEFAULT') return { kind: 'symmetric', key: keyRef(key), context };
  if (context !== undefined) throw new KmsError('ValidationException', 'EncryptionContext is not supported with asymmetric KMS keys.');
  const max = rsaOaepMaxPlaintext(KEY_SPECS[key.spec], algorithm);
  if (plaintextBytes > max) {
    // AWS's wording (as AWS-validated emulators record it), so clients matching on it behave the same.
    throw new KmsError('ValidationException', `Algorithm ${algorithm} and key spec ${key.spec} cannot encrypt data larger than ${max} bytes.`);
  }
  return { kind: 'rsa', key: keyRef(key), algorithm };
}

/**
 * Data keys and data key pairs are wrapped under a symmetric encryption key only. An RSA encryption key is
 * refused naming its KeySpec, in AWS's words (as AWS-validated emulators record them), beside the usage refusal.
 */
export function requireSymmetricEncryptionKey(key: KeyRecord, operation: string): void {
  requireUsage(key, 'ENCRYPT_DECRYPT', operation);
  if (key.spec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('InvalidKeyUsageException', `${key.arn} key KeySpec is ${key.spec} which is not valid for ${operation}.`);
  }
}
