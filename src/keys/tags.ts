// Tag rules (kms-api.md section 5.1): keys 1..128, values 0..256, at most 50 per key, `aws:` reserved.
import { KmsError } from '../protocol/errors.js';
import type { Tag } from '../store/types.js';

export const MAX_TAGS_PER_KEY = 50;

/** Returns `existing` with `added` upserted; TagException for reserved keys, a key given twice, or too many tags. */
export function mergeTags(existing: readonly Tag[], added: readonly Tag[]): Tag[] {
  const merged = new Map(existing.map((tag) => [tag.TagKey, tag.TagValue]));
  const given = new Set<string>();
  for (const tag of added) {
    if (tag.TagKey.toLowerCase().startsWith('aws:')) throw new KmsError('TagException', 'Tag keys beginning with aws: are reserved.');
    if (given.has(tag.TagKey)) throw new KmsError('TagException', 'Duplicate tag keys: each tag key may appear once in a request.');
    given.add(tag.TagKey);
    merged.set(tag.TagKey, tag.TagValue);
  }
  if (merged.size > MAX_TAGS_PER_KEY) throw new KmsError('TagException', `A KMS key can have at most ${MAX_TAGS_PER_KEY} tags.`);
  return [...merged].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
}
