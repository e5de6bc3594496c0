// TagResource, UntagResource, ListResourceTags.
import { mergeTags } from '../keys/tags.js';
import type { Tag } from '../store/types.js';
import { manageKey } from './keys.js';
import { pageAfter } from './paging.js';
import type { Operation } from './types.js';

export const tagResource: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await manageKey(ctx, 'kms:TagResource', 'not-pending-deletion');
    await ctx.keyring.mutate(key.keyId, (draft) => {
      draft.tags = mergeTags(draft.tags, input.Tags as Tag[]);
    });
    return undefined;
  },
};

export const untagResource: Operation = {
  readOnly: false,
  async run(input, ctx) {
    const key = await manageKey(ctx, 'kms:UntagResource', 'not-pending-deletion');
    const removed = new Set(input.TagKeys as string[]);
    await ctx.keyring.mutate(key.keyId, (draft) => {
      draft.tags = draft.tags.filter((tag) => !removed.has(tag.TagKey));
    });
    return undefined;
  },
};

export const listResourceTags: Operation = {
  readOnly: true,
  async run(input, ctx) {
    const key = await manageKey(ctx, 'kms:ListResourceTags');
    const { items, truncated, nextMarker } = pageAfter(key.tags, (tag) => tag.TagKey, input, 50, 50, `ListResourceTags\n${key.keyId}`);
    return { Tags: items, Truncated: truncated, NextMarker: nextMarker };
  },
};
