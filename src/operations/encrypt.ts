import { b64, type RequestContext } from './context.js';
import { contextOf, cryptoQuota, encryptionAlgorithmFor, sealTarget } from './crypto-common.js';
import type { Operation } from './types.js';

export const encrypt: Operation = {
  readOnly: true,
  async run(input, ctx: RequestContext) {
    const key = await ctx.useKey(input.KeyId as string, {
      action: 'kms:Encrypt', allowAlias: true, states: 'enabled', grantOperation: 'Encrypt', quota: cryptoQuota,
    });
    const algorithm = encryptionAlgorithmFor(key, input.EncryptionAlgorithm, 'Encrypt');
    const plaintext = input.Plaintext as Buffer;
    const target = sealTarget(key, algorithm, contextOf(input), plaintext.length);
    const { ciphertext } = await ctx.job({ op: 'encrypt', target, plaintext });
    // RSA encryption uses the key's one public key: AWS names no material for it.
    if (target.kind === 'symmetric') ctx.keyMaterialId = target.key.materialId;
    return { CiphertextBlob: b64(ciphertext), KeyId: key.arn, EncryptionAlgorithm: algorithm };
  },
};
