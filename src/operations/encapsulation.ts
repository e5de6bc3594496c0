// Encapsulate and Decapsulate (ML-KEM keys, JS SDK 3.1164; kms-api.md section 6): a 32-byte shared secret
// and its ciphertext under the key's public half, and the secret back from a ciphertext with the private half.
// Both run in a worker (FIPS 203 in JavaScript costs more than the hop); the secret leaves only in the answer.
import { b64, keyRef, requireUsage, type RequestContext } from './context.js';
import { cryptoQuota } from './crypto-common.js';
import type { Operation } from './types.js';

async function encapsulationKey(ctx: RequestContext, input: Record<string, unknown>, operation: 'Encapsulate' | 'Decapsulate') {
  const key = await ctx.useKey(input.KeyId as string, {
    action: `kms:${operation}`, allowAlias: true, states: 'enabled', grantOperation: operation, quota: cryptoQuota,
  });
  requireUsage(key, 'ENCAPSULATE_DECAPSULATE', operation);
  return key;
}

export const encapsulate: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const key = await encapsulationKey(ctx, input, 'Encapsulate');
    const { sharedSecret, ciphertext } = await ctx.job({ op: 'encapsulate', key: keyRef(key) });
    return {
      KeyId: key.arn, SharedSecret: b64(sharedSecret), SharedSecretCiphertextBlob: b64(ciphertext),
      EncapsulationAlgorithm: input.EncapsulationAlgorithm,
    };
  },
};

export const decapsulate: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const key = await encapsulationKey(ctx, input, 'Decapsulate');
    const { sharedSecret } = await ctx.job({ op: 'decapsulate', key: keyRef(key), ciphertext: input.SharedSecretCiphertextBlob as Buffer });
    return { KeyId: key.arn, SharedSecret: b64(sharedSecret), EncapsulationAlgorithm: input.EncapsulationAlgorithm };
  },
};
