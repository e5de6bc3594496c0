// ReplicateKey and UpdatePrimaryRegion. The engine serves one Region (KMS_REGION), so a multi-Region key here is
// a primary with no replicas and no other Region to hold one (keys/metadata.ts). Both operations find and
// authorize the key as AWS does (NotFoundException, AccessDeniedException, a key that is not multi-Region),
// then refuse the cross-Region part with UnsupportedOperationException.
import { isMultiRegionKeyId } from '../contract/key-ids.js';
import { mergeTags } from '../keys/tags.js';
import { KmsError } from '../protocol/errors.js';
import type { KeyRecord, Tag } from '../store/types.js';
import type { RequestContext } from './context.js';
import type { Operation } from './types.js';

async function multiRegionPrimary(ctx: RequestContext, action: string): Promise<KeyRecord> {
  const key = await ctx.useKey(ctx.input.KeyId as string, { action, allowAlias: false, states: 'any' });
  if (!isMultiRegionKeyId(key.keyId)) throw new KmsError('UnsupportedOperationException', `${key.arn} is not a multi-Region key.`);
  return key;
}

/**
 * The replica's own key policy and tags, checked as CreateKey checks a new key's (MalformedPolicyDocumentException,
 * with the lockout check for the replica's ARN; TagException), so a mistake in them is named before the Region is
 * refused: the caller can fix it now rather than meet it in a Region that holds replicas.
 */
function checkReplicaSettings(input: Record<string, unknown>, ctx: RequestContext, primary: KeyRecord): void {
  const tags = (input.Tags as Tag[] | undefined) ?? [];
  mergeTags([], tags);
  if (input.Policy === undefined) return;
  const replicaArn = primary.arn.replace(`:kms:${ctx.engine.config.region}:`, `:kms:${String(input.ReplicaRegion)}:`);
  ctx.engine.access.validateKeyPolicy(input.Policy as string, ctx.caller, input.BypassPolicyLockoutSafetyCheck === true, {
    arn: replicaArn, key: { keyId: primary.keyId, spec: primary.spec, usage: primary.usage, origin: primary.origin, tags },
    sourceIp: ctx.sourceIp, secureTransport: ctx.secureTransport,
  });
}

const onlyRegion = (ctx: RequestContext): string => `This engine serves only Region ${ctx.engine.config.region}`;

export const replicateKey: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await multiRegionPrimary(ctx, 'kms:ReplicateKey');
    checkReplicaSettings(input, ctx, key);
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
