// KeyMetadata as DescribeKey, CreateKey and friends return it (kms-api.md section 11 and Appendix B).
import { isMultiRegionKeyId } from '../contract/key-ids.js';
import { KEY_SPECS, algorithmsFor } from '../contract/key-specs.js';
import type { KeyRecord } from '../store/types.js';
import { keyExpiration } from './imported-material.js';

export function keyMetadata(key: KeyRecord): Record<string, unknown> {
  return {
    AWSAccountId: key.account,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: key.creationDate,
    Enabled: key.state === 'Enabled',
    Description: key.description,
    KeyUsage: key.usage,
    KeyState: key.state,
    // No PendingDeletionWindowInDays: AWS shows it only in state PendingReplicaDeletion (a primary waiting for
    // its replicas to go), and keys here have no replicas; a key pending deletion shows its DeletionDate.
    DeletionDate: key.state === 'PendingDeletion' ? key.deletionDate : undefined,
    Origin: key.origin,
    // Imported material only: whether it expires and when (ValidTo only with KEY_MATERIAL_EXPIRES).
    ...importedExpiration(key),
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.spec,
    KeySpec: key.spec,
    ...algorithmsFor(KEY_SPECS[key.spec], key.usage),
    ...multiRegionFields(key),
    CurrentKeyMaterialId: key.spec === 'SYMMETRIC_DEFAULT' ? key.currentMaterialId : undefined,
  };
}

/**
 * A multi-Region key is always a primary here: the engine serves one Region, so it holds no replicas
 * (ReplicateKey is unsupported) and the configuration lists none.
 */
function multiRegionFields(key: KeyRecord): Record<string, unknown> {
  if (!isMultiRegionKeyId(key.keyId)) return { MultiRegion: false };
  const region = key.arn.split(':')[3];
  return {
    MultiRegion: true,
    MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: key.arn, Region: region }, ReplicaKeys: [] },
  };
}

/** Imported material only: whether the key's material expires, and the earliest ValidTo of it. */
function importedExpiration(key: KeyRecord): { ExpirationModel?: string; ValidTo?: number } {
  if (key.origin !== 'EXTERNAL') return {};
  const { model, validTo } = keyExpiration(key);
  return { ExpirationModel: model, ValidTo: validTo };
}
