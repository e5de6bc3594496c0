// Bring your own key: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial (kms-api.md
// sections 5.3 and 6, Appendix A). Keys with Origin EXTERNAL start in PendingImport with no material. The
// wrapping key pair is made in a worker and its private half travels only inside the ImportToken, sealed under
// the root key (src/contract/import-token.ts); the imported material is unwrapped, checked and re-wrapped in a
// worker too (workers/import.ts), so plaintext material never reaches this thread. A material's id is derived
// from the key and the material, so a key knows its own material when it comes back (ImportType
// EXISTING_KEY_MATERIAL, the default once a key has had material); a symmetric key also takes new material for
// its next on-demand rotation (NEW_KEY_MATERIAL: PENDING_ROTATION until RotateKeyOnDemand). The materials'
// states and expiry: src/keys/imported-material.ts.
import {
  WRAPPING_ALGORITHMS, WRAPPING_KEY_SPECS, decodeImportToken, type WrappingAlgorithm, type WrappingKeySpec,
} from '../contract/import-token.js';
import { deleteImportedMaterial, hasAllOwnMaterial, settleImportedMaterial } from '../keys/imported-material.js';
import { KmsError } from '../protocol/errors.js';
import type { ExpirationModel, KeyRecord, MaterialRecord } from '../store/types.js';
import { b64, type RequestContext } from './context.js';
import type { Operation } from './types.js';

const DAY_SECONDS = 86_400;
/** ParametersValidTo: a wrapping key and its token are good for 24 hours. */
const IMPORT_PARAMETERS_LIFETIME_SECONDS = DAY_SECONDS;
const MAX_VALID_TO_SECONDS = 365 * DAY_SECONDS;

type ImportType = 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL';
/** What one ImportKeyMaterial call brings for a material: its bytes (wrapped), expiry and description. */
type ArrivedMaterial = Omit<MaterialRecord, 'materialId' | 'createdAt' | 'state'>;

/** An import operation on a key named by key id or ARN: EXTERNAL keys only, never one pending deletion. */
async function importKey(ctx: RequestContext, action: string, refusePendingDeletion: boolean): Promise<KeyRecord> {
  const key = await ctx.useKey(ctx.input.KeyId as string, { action, allowAlias: false, states: 'any' });
  if (key.origin !== 'EXTERNAL') {
    throw new KmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
  }
  if (refusePendingDeletion && key.state === 'PendingDeletion') {
    throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  return key;
}

function wrappingParameters(input: Record<string, unknown>): { spec: WrappingKeySpec; algorithm: WrappingAlgorithm } {
  const algorithm = input.WrappingAlgorithm as string;
  const spec = input.WrappingKeySpec as string;
  if (algorithm === 'RSAES_PKCS1_V1_5') {
    throw new KmsError('ValidationException', 'The wrapping algorithm RSAES_PKCS1_V1_5 is no longer supported. Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.');
  }
  if (spec === 'SM2' || algorithm === 'SM2PKE') {
    throw new KmsError('UnsupportedOperationException', 'SM2 wrapping keys are available only in China Regions.');
  }
  if (!(WRAPPING_ALGORITHMS as readonly string[]).includes(algorithm) || !(WRAPPING_KEY_SPECS as readonly string[]).includes(spec)) {
    throw new KmsError('ValidationException', `WrappingAlgorithm ${algorithm} with WrappingKeySpec ${spec} is not supported.`);
  }
  return { spec: spec as WrappingKeySpec, algorithm: algorithm as WrappingAlgorithm };
}

/** ExpirationModel (default KEY_MATERIAL_EXPIRES) and ValidTo, which it requires and the other model forbids. */
function expirationOf(input: Record<string, unknown>, now: number): { model: ExpirationModel; validTo?: number } {
  const model = (input.ExpirationModel ?? 'KEY_MATERIAL_EXPIRES') as ExpirationModel;
  const validTo = input.ValidTo as number | undefined;
  if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE') {
    if (validTo !== undefined) {
      throw new KmsError('ValidationException', 'ValidTo must not be specified when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.');
    }
    return { model };
  }
  if (validTo === undefined) {
    throw new KmsError('ValidationException', 'ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.');
  }
  if (validTo <= now) throw new KmsError('ValidationException', 'ValidTo must be a date and time in the future.');
  if (validTo > now + MAX_VALID_TO_SECONDS) {
    throw new KmsError('ValidationException', 'ValidTo must be no more than 365 days from the request date.');
  }
  return { model, validTo };
}

const incorrectMaterial = (key: KeyRecord): KmsError => new KmsError('IncorrectKeyMaterialException',
  `The key material is not the key material previously imported into ${key.arn}.`);

export const getParametersForImport: Operation = {
  readOnly: true,
  async run(_input, ctx) {
    const key = await importKey(ctx, 'kms:GetParametersForImport', true);
    const { spec, algorithm } = wrappingParameters(ctx.input);
    const validTo = Math.floor(Date.now() / 1000) + IMPORT_PARAMETERS_LIFETIME_SECONDS;
    const { publicKey, importToken } = await ctx.job({
      op: 'importParameters', keyId: key.keyId, wrappingKeySpec: spec, wrappingAlgorithm: algorithm, validTo,
    });
    return { KeyId: key.arn, ImportToken: b64(importToken), PublicKey: b64(publicKey), ParametersValidTo: validTo };
  },
};

export const importKeyMaterial: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await importKey(ctx, 'kms:ImportKeyMaterial', true);
    const now = Date.now() / 1000;
    const expiration = expirationOf(input, now);
    const importToken = input.ImportToken as Buffer;
    const token = decodeImportToken(importToken);
    if (token === null || token.header.keyId !== key.keyId) {
      throw new KmsError('InvalidImportTokenException', 'The import token is invalid or does not belong to this KMS key.');
    }
    if (token.header.validTo <= now) {
      throw new KmsError('ExpiredImportTokenException', 'The import token has expired. Call GetParametersForImport for a new one.');
    }
    const imported = await ctx.job({
      op: 'unwrapImport', keyId: key.keyId, spec: key.spec, importToken, encryptedMaterial: input.EncryptedKeyMaterial as Buffer,
    });
    const materialId = imported.materialId;
    const importType = input.ImportType as ImportType | undefined;
    if (importType === 'NEW_KEY_MATERIAL' && input.KeyMaterialId !== undefined) {
      throw new KmsError('ValidationException', 'KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL.');
    }
    if (input.KeyMaterialId !== undefined && input.KeyMaterialId !== materialId) throw incorrectMaterial(key);
    const arrived: ArrivedMaterial = {
      wrapped: Buffer.from(imported.wrapped), expirationModel: expiration.model, validTo: expiration.validTo,
      description: input.KeyMaterialDescription as string | undefined,
    };
    const updated = await ctx.keyring.mutate(key.keyId, (draft) => {
      if (draft.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${draft.arn} is pending deletion.`);
      settleImportedMaterial(draft);
      const hadMaterial = draft.materials.length > 0 || draft.importedMaterialId !== undefined;
      if ((importType ?? (hadMaterial ? 'EXISTING_KEY_MATERIAL' : 'NEW_KEY_MATERIAL')) === 'EXISTING_KEY_MATERIAL') {
        reimport(draft, materialId, arrived, now);
      } else if (!hadMaterial) {
        draft.materials = [{ materialId, createdAt: now, state: 'CURRENT', ...arrived }];
        draft.currentMaterialId = materialId;
        draft.importedMaterialId = materialId;
      } else {
        addForRotation(draft, materialId, arrived, now);
      }
      if (imported.publicKey !== undefined) draft.publicKey = Buffer.from(imported.publicKey);
      settleImportedMaterial(draft);
      // A Disabled key stays Disabled; a key waiting for material becomes usable once it has all of its own.
      if (draft.state === 'PendingImport' && hasAllOwnMaterial(draft)) draft.state = 'Enabled';
    });
    return { KeyId: updated.arn, KeyMaterialId: materialId };
  },
};

/** EXISTING_KEY_MATERIAL: material the key already has, back again (after deletion or expiry, or to re-date it). */
function reimport(draft: KeyRecord, materialId: string, arrived: ArrivedMaterial, now: number): void {
  let material = draft.materials.find((m) => m.materialId === materialId);
  // Records written before deleted material kept its place hold only its id, on the key.
  if (material === undefined && draft.materials.length === 0 && draft.importedMaterialId === materialId) {
    material = { materialId, createdAt: now, state: 'CURRENT' };
    draft.materials.push(material);
    draft.currentMaterialId = materialId;
  }
  if (material === undefined) throw incorrectMaterial(draft);
  Object.assign(material, arrived, { description: arrived.description ?? material.description });
  if (arrived.validTo === undefined) delete material.validTo;
}

/** NEW_KEY_MATERIAL into a key that has material: the symmetric key's next material, pending its rotation. */
function addForRotation(draft: KeyRecord, materialId: string, arrived: ArrivedMaterial, now: number): void {
  if (draft.spec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError('UnsupportedOperationException', `${draft.arn} key spec ${draft.spec} takes no new key material after its first import.`);
  }
  if (draft.materials.some((m) => m.materialId === materialId)) {
    throw new KmsError('IncorrectKeyMaterialException', `The key material is already associated with ${draft.arn}; import it as EXISTING_KEY_MATERIAL.`);
  }
  const pending = draft.materials.find((m) => m.state === 'PENDING_ROTATION');
  if (pending !== undefined) {
    throw new KmsError('KMSInvalidStateException',
      `${draft.arn} already has key material ${pending.materialId} pending rotation: rotate to it or delete it first.`);
  }
  draft.materials.push({ materialId, createdAt: now, state: 'PENDING_ROTATION', ...arrived });
}

export const deleteImportedKeyMaterial: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await importKey(ctx, 'kms:DeleteImportedKeyMaterial', false);
    const requested = input.KeyMaterialId as string | undefined;
    if (requested !== undefined && !key.materials.some((m) => m.materialId === requested)) {
      throw new KmsError('NotFoundException', `Key material ${requested} is not imported into ${key.arn}.`);
    }
    const materialId = requested ?? key.currentMaterialId;
    // A key that never had material (PendingImport) is left as it is: deleting nothing succeeds.
    if (materialId === undefined) return { KeyId: key.arn };
    const updated = await ctx.keyring.mutate(key.keyId, (draft) => {
      deleteImportedMaterial(draft, materialId);
    }, true);
    return { KeyId: updated.arn, KeyMaterialId: materialId };
  },
};
