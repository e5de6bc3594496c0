// Rotating a key's material: new material becomes current, all earlier material keeps decrypting
// (kms-api.md section 7). Used by RotateKeyOnDemand and by the scheduler's automatic rotations.
import type { KmsFailure } from '../contract/errors.js';
import type { CryptoPool } from '../pool/crypto-pool.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';
import { newMaterialId } from './factory.js';
import type { Keyring } from './keyring.js';

export const DAY_SECONDS = 86_400;

export const rotatable = (key: KeyRecord): boolean => key.spec === 'SYMMETRIC_DEFAULT' && key.origin === 'AWS_KMS';

export async function rotateKey(keyring: Keyring, pool: CryptoPool, key: KeyRecord, type: 'AUTOMATIC' | 'ON_DEMAND',
  check: (current: KeyRecord) => void = () => {}): Promise<KeyRecord> {
  const materialId = newMaterialId();
  const result = await pool.run({ op: 'generateMaterial', keyId: key.keyId, materialId, spec: key.spec });
  if (!result.ok) throw new KmsError((result as KmsFailure).code, (result as KmsFailure).message);
  return keyring.mutate(key.keyId, (draft) => {
    // Timed when its turn comes, not before: rotations racing on one key are listed in the order they were
    // applied, and their RotationDates must follow that order.
    const now = Date.now() / 1000;
    check(draft);
    for (const material of draft.materials) material.state = 'NON_CURRENT';
    draft.materials.push({ materialId, wrapped: Buffer.from(result.wrapped), createdAt: now, rotationType: type, state: 'CURRENT' });
    draft.currentMaterialId = materialId;
    if (type === 'ON_DEMAND') draft.onDemandRotations++;
    if (type === 'AUTOMATIC' && draft.rotationPeriodInDays !== undefined) {
      draft.nextRotationDate = Math.floor(now) + draft.rotationPeriodInDays * DAY_SECONDS;
    }
  });
}
