// Finding the key and material behind a ciphertext: shared by Decrypt and ReEncrypt's source side.
import { decodeHeader } from '../contract/ciphertext-blob.js';
import type { EncryptionContext } from '../contract/encryption-context.js';
import type { SealedInput } from '../contract/tasks.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';
import { ignoresCiphertext, keyRef, type RequestContext } from './context.js';
import { contextOf, cryptoQuota, encryptionAlgorithmFor } from './crypto-common.js';

export const invalidCiphertext = (): KmsError =>
  new KmsError('InvalidCiphertextException', 'The ciphertext is invalid, or the encryption context does not match.');

export interface CiphertextSource {
  key: KeyRecord;
  sealed: SealedInput;
}

/**
 * Symmetric blobs name their key and material, so KeyId is optional and, when given, must be that key
 * (IncorrectKeyException). Asymmetric ciphertext needs KeyId and EncryptionAlgorithm.
 */
export async function ciphertextSource(ctx: RequestContext, blob: Buffer | undefined, keyIdentifier: string | undefined,
  algorithmInput: unknown, contextInput: Record<string, unknown>, contextMember: string, action: string,
  grantOperation: string, operation: string): Promise<CiphertextSource> {
  const useKey = (identifier: string, fromCiphertext = false) => ctx.useKey(identifier, {
    action, allowAlias: true, states: 'enabled', grantOperation, quota: cryptoQuota, fromCiphertext,
  });
  if (ignoresCiphertext(ctx.input)) {
    return dryRunWithoutCiphertext(useKey, keyIdentifier, algorithmInput, contextOf(contextInput, contextMember), operation);
  }
  if (blob === undefined) {
    throw new KmsError('ValidationException', "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null");
  }
  const header = decodeHeader(blob);
  // A node that has not yet heard of another node's rotation still opens what that node sealed under it.
  const refreshing = header === null ? undefined : ctx.keyring.refreshUnlessHolds(header.keyId, header.materialId);
  if (refreshing !== undefined) await refreshing;
  let key: KeyRecord;
  if (keyIdentifier !== undefined) {
    key = await useKey(keyIdentifier);
    if (key.spec === 'SYMMETRIC_DEFAULT') {
      if (header === null) throw invalidCiphertext();
      if (header.keyId !== key.keyId) {
        throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
      }
    }
  } else {
    if (header === null) throw invalidCiphertext();
    try {
      key = await useKey(header.keyId, true);
    } catch (error) {
      if (error instanceof KmsError && error.code === 'NotFoundException') throw invalidCiphertext();
      throw error;
    }
  }
  const algorithm = encryptionAlgorithmFor(key, algorithmInput, operation);
  if (algorithm === 'SYMMETRIC_DEFAULT') {
    const material = key.materials.find((m) => m.materialId === header!.materialId);
    if (material === undefined) throw invalidCiphertext();
    return { key, sealed: { kind: 'symmetric', key: keyRef(key, material.materialId), blob, context: contextOf(contextInput, contextMember) } };
  }
  if (contextOf(contextInput, contextMember) !== undefined) {
    throw new KmsError('ValidationException', 'EncryptionContext is not supported with asymmetric KMS keys.');
  }
  return { key, sealed: { kind: 'rsa', key: keyRef(key), ciphertext: blob, algorithm } };
}

export const materialIdOf = (sealed: SealedInput): string | undefined =>
  sealed.kind === 'symmetric' ? sealed.key.materialId : undefined;

/** The member that names the ciphertext's key, as a refusal names it: ReEncrypt's is SourceKeyId. */
const KEY_MEMBER: Readonly<Record<string, string>> = { Decrypt: 'KeyId', ReEncrypt: 'SourceKeyId' };

/**
 * The key side of a DryRun that ignores the ciphertext: the key must be named, and be usable with the
 * algorithm and context given. The returned source is never opened: ctx.job() answers DryRunOperationException.
 */
async function dryRunWithoutCiphertext(useKey: (identifier: string) => Promise<KeyRecord>, keyIdentifier: string | undefined,
  algorithmInput: unknown, context: EncryptionContext | undefined, operation: string): Promise<CiphertextSource> {
  if (keyIdentifier === undefined) {
    throw new KmsError('ValidationException', `A ${KEY_MEMBER[operation] ?? 'KeyId'} is required with DryRunModifiers IGNORE_CIPHERTEXT.`);
  }
  const key = await useKey(keyIdentifier);
  const algorithm = encryptionAlgorithmFor(key, algorithmInput, operation);
  if (algorithm === 'SYMMETRIC_DEFAULT') return { key, sealed: { kind: 'symmetric', key: keyRef(key), blob: Buffer.alloc(0), context } };
  if (context !== undefined) throw new KmsError('ValidationException', 'EncryptionContext is not supported with asymmetric KMS keys.');
  return { key, sealed: { kind: 'rsa', key: keyRef(key), ciphertext: Buffer.alloc(0), algorithm } };
}
