// GetPublicKey (main thread: the public key is stored in the clear beside the wrapped private key) and
// DeriveSharedSecret (ECDH in a worker).
import { KEY_SPECS, algorithmsFor } from '../contract/key-specs.js';
import { KmsError } from '../protocol/errors.js';
import { b64, keyRef, requireUsage, refuseRecipient } from './context.js';
import { cryptoQuota } from './crypto-common.js';
import type { Operation } from './types.js';

export const getPublicKey: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const key = await ctx.useKey(input.KeyId as string, {
      action: 'kms:GetPublicKey', allowAlias: true, states: 'enabled', grantOperation: 'GetPublicKey',
    });
    if (key.publicKey === undefined) {
      throw new KmsError('UnsupportedOperationException', `${key.arn} key spec ${key.spec} has no public key.`);
    }
    return {
      KeyId: key.arn,
      PublicKey: b64(key.publicKey),
      CustomerMasterKeySpec: key.spec,
      KeySpec: key.spec,
      KeyUsage: key.usage,
      ...algorithmsFor(KEY_SPECS[key.spec], key.usage),
    };
  },
};

export const deriveSharedSecret: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const key = await ctx.useKey(input.KeyId as string, {
      action: 'kms:DeriveSharedSecret', allowAlias: true, states: 'enabled', grantOperation: 'DeriveSharedSecret',
      quota: cryptoQuota,
    });
    requireUsage(key, 'KEY_AGREEMENT', 'DeriveSharedSecret');
    refuseRecipient(input);
    const { sharedSecret } = await ctx.job({ op: 'deriveSharedSecret', key: keyRef(key), peerPublicKey: input.PublicKey as Buffer });
    return { KeyId: key.arn, SharedSecret: b64(sharedSecret), KeyAgreementAlgorithm: 'ECDH', KeyOrigin: key.origin };
  },
};
