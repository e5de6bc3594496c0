import { b64, refuseRecipient } from './context.js';
import { ciphertextSource, materialIdOf } from './ciphertext-source.js';
import type { Operation } from './types.js';

export const decrypt: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const { key, sealed } = await ciphertextSource(ctx, input.CiphertextBlob as Buffer | undefined, input.KeyId as string | undefined,
      input.EncryptionAlgorithm, input, 'EncryptionContext', 'kms:Decrypt', 'Decrypt', 'Decrypt');
    refuseRecipient(input);
    const { plaintext } = await ctx.job({ op: 'decrypt', source: sealed });
    const algorithm = sealed.kind === 'symmetric' ? 'SYMMETRIC_DEFAULT' : sealed.algorithm;
    ctx.keyMaterialId = materialIdOf(sealed);
    return { KeyId: key.arn, Plaintext: b64(plaintext), EncryptionAlgorithm: algorithm, KeyMaterialId: ctx.keyMaterialId };
  },
};
