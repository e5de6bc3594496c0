// Bring your own key: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial (kms-api.md
// sections 5.3 and 6, Appendix A). Keys with Origin EXTERNAL start in PendingImport with no material. The
// wrapping key pair is made in a worker and its private half travels only inside the ImportToken, sealed under
// the root key (src/contract/import-token.ts); the imported material is unwrapped, checked and re-wrapped in a
// worker too (workers/import.ts), so plaintext material never reaches this thread. One material per key: a
// key accepts back only the material it was first given (its id is derived from the material).
import {
  WRAPPING_ALGORITHMS, WRAPPING_KEY_SPECS, decodeImportToken, type WrappingAlgorithm, type WrappingKeySpec,
} from '../contract/import-token.js';
import { removeImportedMaterial } from '../keys/imported-material.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';
import { b64, type RequestContext } from './context.js';
import type { Operation } from './types.js';

const DAY_SECONDS = 86_400;
/** ParametersValidTo: a wrapping key and its token are good for 24 hours. */
const IMPORT_PARAMETERS_LIFETIME_SECONDS = DAY_SECONDS;
const MAX_VALID_TO_SECONDS = 365 * DAY_SECONDS;

type ExpirationModel = NonNullable<KeyRecord['expirationModel']>;

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
    if (input.KeyMaterialId !== undefined && input.KeyMaterialId !== materialId) throw incorrectMaterial(key);
    const updated = await ctx.keyring.mutate(key.keyId, (draft) => {
      if (draft.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${draft.arn} is pending deletion.`);
      if (draft.importedMaterialId !== undefined && draft.importedMaterialId !== materialId) {
        if (input.ImportType === 'NEW_KEY_MATERIAL') {
          throw new KmsError('UnsupportedOperationException', 'Importing new key material into a key that already has key material is not supported by this engine.');
        }
        throw incorrectMaterial(draft);
      }
      draft.importedMaterialId = materialId;
      draft.materials = [{ materialId, wrapped: Buffer.from(imported.wrapped), createdAt: now, state: 'CURRENT' }];
      draft.currentMaterialId = materialId;
      if (imported.publicKey !== undefined) draft.publicKey = Buffer.from(imported.publicKey);
      draft.expirationModel = expiration.model;
      if (expiration.validTo === undefined) delete draft.validTo;
      else draft.validTo = expiration.validTo;
      // A Disabled key with material stays Disabled; a key waiting for material becomes usable.
      if (draft.state === 'PendingImport') draft.state = 'Enabled';
    });
    return { KeyId: updated.arn, KeyMaterialId: materialId };
  },
};

export const deleteImportedKeyMaterial: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await importKey(ctx, 'kms:DeleteImportedKeyMaterial', false);
    const requested = input.KeyMaterialId as string | undefined;
    if (requested !== undefined && requested !== key.currentMaterialId) {
      throw new KmsError('NotFoundException', `Key material ${requested} is not imported into ${key.arn}.`);
    }
    // A key without material (PendingImport) is left as it is: deleting nothing succeeds.
    if (key.materials.length === 0) return { KeyId: key.arn };
    let removed: string | undefined;
    const updated = await ctx.keyring.mutate(key.keyId, (draft) => {
      removed = removeImportedMaterial(draft);
    }, true);
    return { KeyId: updated.arn, KeyMaterialId: removed };
  },
};
