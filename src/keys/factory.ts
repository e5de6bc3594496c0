// Making a new key: its record, and its first material generated (or given, for seeding and import) and
// wrapped inside a worker. Shared by CreateKey and the seeder.
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import type { KeySpec, KeyUsage } from '../contract/key-specs.js';
import type { KmsFailure } from '../contract/errors.js';
import type { CryptoPool } from '../pool/crypto-pool.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyOrigin, KeyRecord, Tag } from '../store/types.js';
import type { Keyring } from './keyring.js';

export interface NewKey {
  keyId?: string;
  spec: KeySpec;
  usage: KeyUsage;
  origin: KeyOrigin;
  description: string;
  policy: string;
  tags: Tag[];
  /** Fixed material (seed files): raw bytes or DER PKCS#8, as the seed format defines. */
  material?: Buffer;
}

export const newMaterialId = (): string => randomBytes(32).toString('hex');

/**
 * Material ids of fixed (seeded) material are derived from the key id and the material, so two stores seeded
 * from one file name the same material and decrypt each other's ciphertexts.
 */
export const derivedMaterialId = (keyId: string, material: Uint8Array): string =>
  createHash('sha256').update('kms-engine/material-id/v1|').update(keyId).update('|').update(material).digest('hex');

export async function createKey(keyring: Keyring, pool: CryptoPool, spec: NewKey): Promise<KeyRecord> {
  const keyId = spec.keyId ?? randomUUID();
  const now = Date.now() / 1000;
  const record: KeyRecord = {
    keyId,
    arn: keyring.arnOf(keyId),
    account: keyring.account,
    region: keyring.region,
    spec: spec.spec,
    usage: spec.usage,
    origin: spec.origin,
    state: spec.origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled',
    description: spec.description,
    creationDate: now,
    policy: spec.policy,
    rotationEnabled: false,
    onDemandRotations: 0,
    materials: [],
    tags: spec.tags,
    version: 1,
  };
  if (spec.origin === 'AWS_KMS') {
    const materialId = spec.material === undefined ? newMaterialId() : derivedMaterialId(keyId, spec.material);
    const result = spec.material === undefined
      ? await pool.run({ op: 'generateMaterial', keyId, materialId, spec: spec.spec })
      : await pool.run({ op: 'wrapMaterial', keyId, materialId, spec: spec.spec, material: spec.material });
    if (!result.ok) throw new KmsError((result as KmsFailure).code, (result as KmsFailure).message);
    record.materials.push({ materialId, wrapped: Buffer.from(result.wrapped), createdAt: now, state: 'CURRENT' });
    record.currentMaterialId = materialId;
    if (result.publicKey !== undefined) record.publicKey = Buffer.from(result.publicKey);
  }
  await keyring.create(record);
  return record;
}
