// ReplicateKey and UpdatePrimaryRegion. The engine serves one Region (KMS_REGION), so a multi-Region key here is
// a primary with no replicas and no other Region to hold one (keys/metadata.ts). Both operations find and
// authorize the key as AWS does (NotFoundException, AccessDeniedException, a key that is not multi-Region),
// then refuse the cross-Region part with UnsupportedOperationException.
import { isMultiRegionKeyId } from '../contract/key-ids.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord } from '../store/types.js';
import type { RequestContext } from './context.js';
import type { Operation } from './types.js';

async function multiRegionPrimary(ctx: RequestContext, action: string): Promise<KeyRecord> {
  const key = await ctx.useKey(ctx.input.KeyId as string, { action, allowAlias: false, states: 'any' });
  if (!isMultiRegionKeyId(key.keyId)) throw new KmsError('UnsupportedOperationException', `${key.arn} is not a multi-Region key.`);
  return key;
}

const onlyRegion = (ctx: RequestContext): string => `This engine serves only Region ${ctx.engine.config.region}`;

export const replicateKey: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await multiRegionPrimary(ctx, 'kms:ReplicateKey');
    throw new KmsError('UnsupportedOperationException',
      `${onlyRegion(ctx)}: it cannot hold a replica of ${key.arn} in ${String(input.ReplicaRegion)}.`);
  },
};

export const updatePrimaryRegion: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await multiRegionPrimary(ctx, 'kms:UpdatePrimaryRegion');
    throw new KmsError('UnsupportedOperationException',
      `${onlyRegion(ctx)}: ${key.arn} has no replica in ${String(input.PrimaryRegion)} to make its primary.`);
  },
};
