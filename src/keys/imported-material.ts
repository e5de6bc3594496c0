// Imported key material's life after ImportKeyMaterial (kms-api.md sections 5.3 and 6): material that
// expires is deleted when its ValidTo passes, as DeleteImportedKeyMaterial deletes it on request, and the key
// goes back to PendingImport until the same material is imported again. Expiry is applied lazily, the first
// time the key is resolved after ValidTo (Keyring.resolve), and by the scheduler (src/keys/scheduler.ts), so a
// key nobody uses still shows PendingImport in DescribeKey once the scheduler has passed.
import type { KeyRecord } from '../store/types.js';
import type { Keyring } from './keyring.js';

/** True once a key's imported material has passed its ValidTo. Costs one comparison for every other key. */
export const materialExpired = (key: KeyRecord, now?: number): boolean =>
  key.validTo !== undefined && key.validTo <= (now ?? Date.now() / 1000) && key.materials.length > 0;

/**
 * Drops a key's imported material (on a draft inside keyring.mutate): the key keeps its id, policy, aliases,
 * grants and the id of the material it accepts back. Returns the id of the material removed, if any.
 */
export function removeImportedMaterial(draft: KeyRecord): string | undefined {
  const removed = draft.currentMaterialId;
  draft.materials = [];
  delete draft.currentMaterialId;
  delete draft.publicKey;
  delete draft.validTo;
  delete draft.expirationModel;
  // A key pending deletion stays so (its deletion date still holds); CancelKeyDeletion then finds no material.
  if (draft.state !== 'PendingDeletion') draft.state = 'PendingImport';
  return removed;
}

/** Deletes a key's material if it has expired by `now`; returns the key as stored afterwards. */
export function expireImportedMaterial(keyring: Keyring, keyId: string, now = Date.now() / 1000): Promise<KeyRecord> {
  return keyring.mutate(keyId, (draft) => {
    if (materialExpired(draft, now)) removeImportedMaterial(draft);
  }, true);
}
