// The two shapes of a key id (kms-api.md section 4): a single-Region key's lowercase UUID, and a multi-Region
// key's `mrk-` + 32 hex digits. Both are 36 characters and carry 16 bytes. Imported by both threads: pure.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const MULTI_REGION_KEY_PREFIX = 'mrk-';
const MULTI_REGION_KEY_ID = /^mrk-[0-9a-f]{32}$/;

export const isRegionalKeyId = (value: string): boolean => UUID.test(value);
export const isMultiRegionKeyId = (value: string): boolean => MULTI_REGION_KEY_ID.test(value);
