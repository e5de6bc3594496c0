// Imported key material's life after ImportKeyMaterial (kms-api.md sections 5.3, 6 and 7). A key with Origin
// EXTERNAL holds one material, or, when symmetric, several: the first, materials it was rotated to on demand, and
// at most one imported for the next rotation (PENDING_ROTATION). Each has its own expiry. Material that is
// deleted (DeleteImportedKeyMaterial) or expires loses its bytes but stays the key's (ImportState
// PENDING_IMPORT) until the same material is imported again; while any of the key's own material is missing
// the key is PendingImport. Material pending rotation is not yet the key's: deleting it removes it outright.
// Expiry is applied lazily, the first time the key is resolved after the earliest ValidTo (Keyring.resolve),
// and by the scheduler (src/keys/scheduler.ts), so a key nobody uses still shows PendingImport in DescribeKey
// once the scheduler has passed. The key's own `validTo` is that earliest ValidTo: what both look at.
import { KmsError } from '../protocol/errors.js';
import type { ExpirationModel, KeyRecord, MaterialRecord } from '../store/types.js';
import type { Keyring } from './keyring.js';

/** True once some imported material of the key has passed its ValidTo. Costs one comparison for every other key. */
export const materialExpired = (key: KeyRecord, now?: number): boolean =>
  key.validTo !== undefined && key.validTo <= (now ?? Date.now() / 1000);

const isImported = (material: MaterialRecord): boolean => material.wrapped !== undefined;
/** Material the key keeps for good: all but material pending rotation. */
const isOwn = (material: MaterialRecord): boolean => material.state !== 'PENDING_ROTATION';

/** A material's expiry; records written before materials carried their own kept the current one's on the key. */
export function expirationOf(key: KeyRecord, material: MaterialRecord): { model?: ExpirationModel; validTo?: number } {
  if (material.expirationModel !== undefined || !isImported(material)) return { model: material.expirationModel, validTo: material.validTo };
  return material.materialId === key.currentMaterialId ? { model: key.expirationModel, validTo: key.validTo } : {};
}

/**
 * DescribeKey's ExpirationModel and ValidTo: the earliest expiry of the imported material the key keeps for good
 * (its current and older material, not material pending rotation), as the service model defines KeyMetadata's
 * ValidTo; the key becomes unusable then, whichever of its materials that is. None while it has no such material.
 */
export function keyExpiration(key: KeyRecord): { model?: ExpirationModel; validTo?: number } {
  const kept = key.materials.filter((material) => isOwn(material) && isImported(material));
  if (kept.length === 0) return {};
  const expiries = kept.flatMap((material) => expirationOf(key, material).validTo ?? []);
  if (expiries.length === 0) return { model: 'KEY_MATERIAL_DOES_NOT_EXPIRE' };
  return { model: 'KEY_MATERIAL_EXPIRES', validTo: Math.min(...expiries) };
}

/** Whether the key has all of its own material (ImportState IMPORTED): what a usable EXTERNAL key needs. */
export const hasAllOwnMaterial = (key: KeyRecord): boolean => key.materials.some(isOwn) && key.materials.filter(isOwn).every(isImported);

/**
 * Brings a draft's derived fields in line with its materials (inside keyring.mutate, after any change to them):
 * the earliest expiry, and PendingImport while any of the key's own material is missing (a key pending
 * deletion stays so: its deletion date still holds, and CancelKeyDeletion then finds it PendingImport).
 */
export function settleImportedMaterial(draft: KeyRecord): void {
  for (const material of draft.materials) {
    const { model, validTo } = expirationOf(draft, material);
    if (model !== undefined) material.expirationModel = model;
    if (validTo !== undefined) material.validTo = validTo;
  }
  delete draft.expirationModel;
  const expiries = draft.materials.filter(isImported).flatMap((m) => (m.validTo === undefined ? [] : [m.validTo]));
  if (expiries.length === 0) delete draft.validTo;
  else draft.validTo = Math.min(...expiries);
  if (!hasAllOwnMaterial(draft) && draft.state !== 'PendingDeletion') draft.state = 'PendingImport';
}

/**
 * Deletes one imported material (on a draft inside keyring.mutate): the key's own material keeps its id and place
 * without its bytes; material pending rotation goes. Material already deleted stays as it is.
 */
export function deleteImportedMaterial(draft: KeyRecord, materialId: string): void {
  const material = draft.materials.find((m) => m.materialId === materialId);
  if (material === undefined || !isImported(material)) return;
  settleImportedMaterial(draft); // carries an older record's key-level expiry onto its material first
  if (isOwn(material)) {
    delete material.wrapped;
    delete material.expirationModel;
    delete material.validTo;
    // The public key is derived from the (only) material of an asymmetric key: it goes with it.
    if (draft.spec !== 'SYMMETRIC_DEFAULT') delete draft.publicKey;
  } else {
    draft.materials = draft.materials.filter((m) => m !== material);
  }
  settleImportedMaterial(draft);
}

/** Whether on-demand rotation of this key moves to imported material (which must be pending) instead of new. */
export const rotatesToImportedMaterial = (key: KeyRecord): boolean => key.origin === 'EXTERNAL' && key.spec === 'SYMMETRIC_DEFAULT';

/**
 * RotateKeyOnDemand of a symmetric key with imported material (on a draft inside keyring.mutate): the material
 * pending rotation becomes current, for good; the current one stays for decryption.
 */
export function rotateToPendingMaterial(draft: KeyRecord, now: number): void {
  const pending = draft.materials.find((m) => m.state === 'PENDING_ROTATION');
  if (pending === undefined) {
    throw new KmsError('KMSInvalidStateException',
      `${draft.arn} has no key material pending rotation: import new key material (ImportType NEW_KEY_MATERIAL) first.`);
  }
  for (const material of draft.materials) if (material.state === 'CURRENT') material.state = 'NON_CURRENT';
  pending.state = 'CURRENT';
  pending.rotationType = 'ON_DEMAND';
  pending.createdAt = now;
  draft.currentMaterialId = pending.materialId;
  draft.onDemandRotations++;
}

/**
 * Deletes the key's materials that have expired by `now`; returns the key as stored afterwards, and whether this
 * call deleted any (false when another request, the scheduler or another node got there first): only the one
 * that did records the DeleteExpiredKeyMaterial event.
 */
export async function expireImportedMaterial(keyring: Keyring, keyId: string, now = Date.now() / 1000):
  Promise<{ key: KeyRecord; expired: boolean }> {
  let expired = false;
  const key = await keyring.mutate(keyId, (draft) => {
    expired = false; // the change is reapplied when another node's write won the race
    settleImportedMaterial(draft);
    for (const material of [...draft.materials]) {
      if (material.validTo !== undefined && material.validTo <= now) {
        deleteImportedMaterial(draft, material.materialId);
        expired = true;
      }
    }
  }, true);
  return { key, expired };
}
