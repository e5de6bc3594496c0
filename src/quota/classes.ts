// Which request-quota classes one request consumes (kms-api.md section 9). Runs on every request, so each
// answer is a frozen array built once: no allocation on the hot path.

import type { QuotaClass } from '../contract/key-specs.js';
import kmsModel from '../protocol/kms-model.json' with { type: 'json' };
import { dataKeyPairClass } from './presets.js';

/** Every operation of the AWS KMS API (the service model is the authority on names). */
export const KMS_OPERATIONS: ReadonlySet<string> = new Set(Object.keys(kmsModel.operations));

/**
 * Every KeyPairSpec of the service model, SM2 included: AWS offers SM2 data key pairs (quota 25/s) only in its
 * China Regions, and this engine refuses them, but `datakeypair:SM2=25` is a valid KMS_QUOTAS item all the same.
 */
export const MODEL_DATA_KEY_PAIR_SPECS: readonly string[] = kmsModel.shapes.DataKeyPairSpec.enum;

/** Cryptographic operations that count against the shared quota of the key's class. */
const KEYED_CRYPTO_OPERATIONS: ReadonlySet<string> = new Set([
  'Encrypt', 'Decrypt', 'ReEncrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'VerifyMac',
  'Sign', 'Verify', 'DeriveSharedSecret', 'Encapsulate', 'Decapsulate',
]);
/** Keyed crypto operations that only accept symmetric or HMAC keys: their class is known without the key. */
const SYMMETRIC_ONLY_OPERATIONS: ReadonlySet<string> = new Set([
  'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'VerifyMac',
]);
const DATA_KEY_PAIR_OPERATIONS: ReadonlySet<string> = new Set(['GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext']);

/**
 * Operations charged once their key's class is known (or, GenerateRandom, the symmetric class): their own name is
 * not their AWS quota, though KMS_QUOTAS may add one (`Encrypt=5`, src/quota/charge.ts).
 */
export const isCryptoOperation = (operation: string): boolean =>
  KEYED_CRYPTO_OPERATIONS.has(operation) || DATA_KEY_PAIR_OPERATIONS.has(operation) || operation === 'GenerateRandom';

/** Cryptographic operations on a KMS key, i.e. all of them but GenerateRandom: each resolves its key before its quota is charged. */
export const isKeyedCryptoOperation = (operation: string): boolean =>
  KEYED_CRYPTO_OPERATIONS.has(operation) || DATA_KEY_PAIR_OPERATIONS.has(operation);

// Built up front for every legitimate class; anything else (an unvalidated name) gets a fresh array so that
// junk input can never grow this map.
const singletons = new Map<string, readonly string[]>();
for (const quotaClass of [
  'symmetric', 'rsa', 'ecc', 'ml_dsa', 'ml_kem', ...MODEL_DATA_KEY_PAIR_SPECS.map(dataKeyPairClass), ...KMS_OPERATIONS,
]) singletons.set(quotaClass, Object.freeze([quotaClass]));
const one = (quotaClass: string): readonly string[] => singletons.get(quotaClass) ?? [quotaClass];

/**
 * The quota classes a request consumes. Crypto operations on a key count against the key's class
 * (`keyQuotaClass`, from KEY_SPECS[spec].quotaClass); GenerateRandom against symmetric; GenerateDataKeyPair*
 * against `datakeypair:<KeyPairSpec>` only; every other operation against a quota named after itself.
 * ReEncrypt touches two keys: call this once per key when their classes differ.
 * Throws (a programming error, never a client error) when a crypto operation's class cannot be known.
 */
export function quotaClassFor(operation: string, keyQuotaClass?: QuotaClass, dataKeyPairSpec?: string): readonly string[] {
  if (KEYED_CRYPTO_OPERATIONS.has(operation)) {
    if (keyQuotaClass !== undefined) return one(keyQuotaClass);
    if (SYMMETRIC_ONLY_OPERATIONS.has(operation)) return one('symmetric');
    throw new TypeError(`quotaClassFor: ${operation} needs the key's quota class`);
  }
  if (DATA_KEY_PAIR_OPERATIONS.has(operation)) {
    if (dataKeyPairSpec === undefined) throw new TypeError(`quotaClassFor: ${operation} needs the KeyPairSpec`);
    return one(dataKeyPairClass(dataKeyPairSpec));
  }
  if (operation === 'GenerateRandom') return one('symmetric');
  return one(operation);
}
