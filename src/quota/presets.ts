// AWS KMS's current default request quotas (kms-api.md section 9), as data: the `aws` preset of KMS_QUOTAS
// is built from these tables and nothing else. Per account, per Region, requests per second.

import type { DataKeyPairSpec, QuotaClass } from '../contract/key-specs.js';

/** Regions whose shared symmetric quota is 100,000/s. */
const SYMMETRIC_100K_REGIONS: ReadonlySet<string> = new Set(['us-east-1', 'us-west-2', 'eu-west-1']);
/** Regions whose shared symmetric quota is 20,000/s; every other Region gets 10,000/s. */
const SYMMETRIC_20K_REGIONS: ReadonlySet<string> = new Set([
  'us-east-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-northeast-1', 'eu-central-1', 'eu-west-2',
]);

/**
 * The shared cryptographic-operation quota of each key class in a Region. ML-KEM has none in kms-api.md's
 * table, so the preset leaves `ml_kem` (and ML-KEM data key pairs) unlimited: set it yourself (`aws,ml_kem=N`).
 */
export function cryptoQuotas(region: string): Readonly<Record<Exclude<QuotaClass, 'ml_kem'>, number>> {
  const symmetric = SYMMETRIC_100K_REGIONS.has(region) ? 100_000 : SYMMETRIC_20K_REGIONS.has(region) ? 20_000 : 10_000;
  return { symmetric, rsa: 1_000, ecc: 1_000, ml_dsa: 1_000 };
}

/** GenerateDataKeyPair + GenerateDataKeyPairWithoutPlaintext: their own quota per KeyPairSpec. */
export const DATA_KEY_PAIR_QUOTAS: Readonly<Partial<Record<DataKeyPairSpec, number>>> = {
  ECC_NIST_P256: 100,
  ECC_NIST_P384: 100,
  ECC_NIST_P521: 100,
  ECC_SECG_P256K1: 100,
  ECC_NIST_EDWARDS25519: 100,
  RSA_2048: 20,
  RSA_3072: 4,
  RSA_4096: 1,
};

/** Management and read operations: each its own independent quota, named after the operation. */
export const OPERATION_QUOTAS: Readonly<Record<string, number>> = {
  CancelKeyDeletion: 5,
  ConnectCustomKeyStore: 5,
  CreateAlias: 5,
  CreateCustomKeyStore: 5,
  CreateGrant: 50,
  CreateKey: 5,
  DeleteAlias: 15,
  DeleteCustomKeyStore: 5,
  DeleteImportedKeyMaterial: 15,
  DescribeCustomKeyStores: 5,
  DescribeKey: 2_000,
  DisableKey: 5,
  DisableKeyRotation: 5,
  EnableKey: 5,
  EnableKeyRotation: 15,
  GetKeyLastUsage: 5,
  GetKeyPolicy: 1_000,
  GetKeyRotationStatus: 1_000,
  GetParametersForImport: 1,
  GetPublicKey: 2_000,
  ImportKeyMaterial: 15,
  ListAliases: 500,
  ListGrants: 100,
  ListKeyPolicies: 100,
  ListKeyRotations: 100,
  ListKeys: 500,
  ListResourceTags: 2_000,
  ListRetirableGrants: 100,
  PutKeyPolicy: 15,
  ReplicateKey: 5,
  RetireGrant: 50,
  RevokeGrant: 50,
  RotateKeyOnDemand: 5,
  ScheduleKeyDeletion: 15,
  TagResource: 10,
  UntagResource: 5,
  UpdateAlias: 5,
  UpdateCustomKeyStore: 5,
  UpdateKeyDescription: 5,
  UpdatePrimaryRegion: 5,
};

/** Operation names the `aws` preset gives their own quota (the management / read table of section 9). */
export const PRESET_OPERATIONS: readonly string[] = Object.freeze(Object.keys(OPERATION_QUOTAS));

/** Quota class of GenerateDataKeyPair* with this KeyPairSpec. */
export const dataKeyPairClass = (spec: string): string => `datakeypair:${spec}`;

/** Every limit of the `aws` preset for a Region, keyed by quota class. */
/** China Regions allow far fewer RSA data key pairs per second (kms-api.md section 9). */
export const CHINA_RSA_DATA_KEY_PAIR_QUOTAS: Readonly<Partial<Record<DataKeyPairSpec, number>>> = {
  RSA_2048: 1,
  RSA_3072: 0.5,
  RSA_4096: 0.1,
};

export function awsPreset(region: string): Map<string, number> {
  const limits = new Map<string, number>(Object.entries(cryptoQuotas(region)));
  const china = region.startsWith('cn-');
  for (const [spec, rps] of Object.entries(DATA_KEY_PAIR_QUOTAS)) {
    const chinaRps = china ? CHINA_RSA_DATA_KEY_PAIR_QUOTAS[spec as DataKeyPairSpec] : undefined;
    limits.set(dataKeyPairClass(spec), chinaRps ?? rps);
  }
  for (const [operation, rps] of Object.entries(OPERATION_QUOTAS)) limits.set(operation, rps);
  return limits;
}
