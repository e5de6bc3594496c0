// ReEncrypt: one composite worker job, so the plaintext never leaves the worker and pays one thread hop.
// Needs kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination.
import { b64 } from './context.js';
import { ciphertextSource, materialIdOf } from './ciphertext-source.js';
import { contextOf, cryptoQuota, encryptionAlgorithmFor, sealTarget } from './crypto-common.js';
import type { Operation } from './types.js';

export const reEncrypt: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const source = await ciphertextSource(ctx, input.CiphertextBlob as Buffer | undefined, input.SourceKeyId as string | undefined,
      input.SourceEncryptionAlgorithm, input, 'SourceEncryptionContext', 'kms:ReEncryptFrom', 'ReEncryptFrom', 'ReEncrypt');
    const destination = await ctx.useKey(input.DestinationKeyId as string, {
      action: 'kms:ReEncryptTo', allowAlias: true, states: 'enabled', grantOperation: 'ReEncryptTo', quota: cryptoQuota,
    });
    const algorithm = encryptionAlgorithmFor(destination, input.DestinationEncryptionAlgorithm, 'ReEncrypt');
    // The plaintext's size is unknown here; the worker's RSA encrypt guards the OAEP limit itself.
    const target = sealTarget(destination, algorithm, contextOf(input, 'DestinationEncryptionContext'), 0);
    const { ciphertext } = await ctx.job({ op: 'reEncrypt', source: source.sealed, target });
    ctx.sourceKeyMaterialId = materialIdOf(source.sealed);
    ctx.destinationKeyMaterialId = target.kind === 'symmetric' ? target.key.materialId : undefined;
    return {
      CiphertextBlob: b64(ciphertext),
      SourceKeyId: source.key.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: source.sealed.kind === 'symmetric' ? 'SYMMETRIC_DEFAULT' : source.sealed.algorithm,
      DestinationEncryptionAlgorithm: algorithm,
      SourceKeyMaterialId: ctx.sourceKeyMaterialId,
      DestinationKeyMaterialId: ctx.destinationKeyMaterialId,
    };
  },
};
