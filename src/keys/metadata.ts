// KeyMetadata as DescribeKey, CreateKey and friends return it (kms-api.md section 11 and Appendix B).
import { KEY_SPECS, algorithmsFor } from '../contract/key-specs.js';
import type { KeyRecord } from '../store/types.js';

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
    DeletionDate: key.state === 'PendingDeletion' ? key.deletionDate : undefined,
    PendingDeletionWindowInDays: key.state === 'PendingDeletion' ? key.pendingWindowInDays : undefined,
    Origin: key.origin,
    // Imported material only: whether it expires and when (ValidTo only with KEY_MATERIAL_EXPIRES).
    ExpirationModel: key.expirationModel,
    ValidTo: key.validTo,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.spec,
    KeySpec: key.spec,
    ...algorithmsFor(KEY_SPECS[key.spec], key.usage),
    MultiRegion: false,
    CurrentKeyMaterialId: key.spec === 'SYMMETRIC_DEFAULT' ? key.currentMaterialId : undefined,
  };
}
