import { KEY_SPECS, isKeySpec, type KeySpec, type KeyUsage } from '../contract/key-specs.js';
import { createKey as makeKey } from '../keys/factory.js';
import { newKeyId } from '../keys/identifiers.js';
import { keyMetadata } from '../keys/metadata.js';
import { mergeTags } from '../keys/tags.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyOrigin, Tag } from '../store/types.js';
import type { Operation } from './types.js';

/** KeySpec and KeyUsage as AWS settles them: KeyUsage is required for every spec but SYMMETRIC_DEFAULT. */
export function specAndUsage(input: Record<string, unknown>): { spec: KeySpec; usage: KeyUsage } {
  const requested = (input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT') as string;
  if (input.KeySpec !== undefined && input.CustomerMasterKeySpec !== undefined && input.KeySpec !== input.CustomerMasterKeySpec) {
    throw new KmsError('ValidationException', 'KeySpec and CustomerMasterKeySpec cannot both be specified with different values.');
  }
  if (!isKeySpec(requested)) throw new KmsError('UnsupportedOperationException', `KeySpec ${requested} is not supported in this region.`);
  const info = KEY_SPECS[requested];
  const usage = input.KeyUsage as KeyUsage | undefined;
  // AWS's words for both refusals (the second ends without a full stop in AWS's answers too).
  if (usage === undefined) {
    if (requested !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError('ValidationException', 'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.');
    }
    return { spec: requested, usage: 'ENCRYPT_DECRYPT' };
  }
  if (!info.usages.includes(usage)) {
    throw new KmsError('ValidationException', `KeyUsage ${usage} is not compatible with KeySpec ${requested}`);
  }
  return { spec: requested, usage };
}

export const createKey: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const { spec, usage } = specAndUsage(input);
    const origin = (input.Origin ?? 'AWS_KMS') as string;
    if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') {
      throw new KmsError('UnsupportedOperationException', `Origin ${origin} is not supported by this engine.`);
    }
    if (input.CustomKeyStoreId !== undefined || input.XksKeyId !== undefined) {
      throw new KmsError('UnsupportedOperationException', 'Custom key stores are not supported by this engine.');
    }
    await ctx.authorizeAccount('kms:CreateKey');
    if (!ctx.callerOwnsKeys) {
      // AWS would create the key in the caller's account; this engine holds one account's keys (KMS_ACCOUNT_ID).
      throw new KmsError('UnsupportedOperationException',
        `This engine holds the KMS keys of account ${ctx.keyring.account} only; principals of account ${ctx.caller.accountId} can use them by key ARN where the key policy allows, but cannot create keys.`);
    }
    const access = ctx.engine.access;
    const keyId = newKeyId(input.MultiRegion === true);
    const policy = (input.Policy as string | undefined) ?? access.defaultKeyPolicy();
    const requestTags = (input.Tags as Tag[] | undefined) ?? [];
    if (input.Policy !== undefined) {
      // The lockout check imagines a PutKeyPolicy on the key this request describes.
      access.validateKeyPolicy(policy, ctx.caller, input.BypassPolicyLockoutSafetyCheck === true, {
        arn: ctx.keyring.arnOf(keyId), key: { keyId, spec, usage, origin: origin as KeyOrigin, tags: requestTags }, sourceIp: ctx.sourceIp,
        secureTransport: ctx.secureTransport,
      });
    }
    const tags = mergeTags([], requestTags);
    const key = await makeKey(ctx.keyring, ctx.engine.pool, {
      keyId, spec, usage, origin, description: (input.Description as string | undefined) ?? '', policy, tags,
    });
    ctx.noteKey(key);
    return { KeyMetadata: keyMetadata(key) };
  },
};
