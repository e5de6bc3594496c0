// GenerateMac and VerifyMac (one family, like Vault's path_sign_verify). A failed VerifyMac is
// KMSInvalidMacException, never MacValid=false.
import { KEY_SPECS, type MacAlgorithm } from '../contract/key-specs.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';
import { b64, keyRef, requireUsage, type RequestContext } from './context.js';
import { cryptoQuota } from './crypto-common.js';
import type { Operation } from './types.js';

async function macKey(ctx: RequestContext, operation: 'GenerateMac' | 'VerifyMac'): Promise<{ key: KeyRecord; algorithm: MacAlgorithm }> {
  const key = await ctx.useKey(ctx.input.KeyId as string, {
    action: `kms:${operation}`, allowAlias: true, states: 'enabled', grantOperation: operation, quota: cryptoQuota,
  });
  requireUsage(key, 'GENERATE_VERIFY_MAC', operation);
  const algorithm = ctx.input.MacAlgorithm as MacAlgorithm;
  if (!KEY_SPECS[key.spec].macAlgorithms?.includes(algorithm)) {
    // AWS's words, the same as Encrypt's and Sign's for an algorithm the key spec lacks.
    throw new KmsError('InvalidKeyUsageException', `Algorithm ${algorithm} is incompatible with key spec ${key.spec}.`);
  }
  return { key, algorithm };
}

export const generateMac: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const { key, algorithm } = await macKey(ctx, 'GenerateMac');
    const { mac } = await ctx.job({ op: 'generateMac', key: keyRef(key), algorithm, message: input.Message as Buffer });
    return { Mac: b64(mac), MacAlgorithm: algorithm, KeyId: key.arn };
  },
};

export const verifyMac: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const { key, algorithm } = await macKey(ctx, 'VerifyMac');
    const { valid } = await ctx.job({
      op: 'verifyMac', key: keyRef(key), algorithm, message: input.Message as Buffer, mac: input.Mac as Buffer,
    });
    if (!valid) throw new KmsError('KMSInvalidMacException', 'The MAC is not valid for this message and key.');
    return { KeyId: key.arn, MacValid: true, MacAlgorithm: algorithm };
  },
};
