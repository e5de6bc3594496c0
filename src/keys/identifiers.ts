// Key ids, key ARNs, alias names and alias ARNs (kms-api.md section 4): parsing and formatting.
import { randomBytes, randomUUID } from 'node:crypto';
import { isMultiRegionKeyId, isRegionalKeyId, MULTI_REGION_KEY_PREFIX } from '../contract/key-ids.js';
import { partitionOf } from '../contract/partition.js';
import { KmsError } from '../protocol/errors.js';

export type KeyIdentifier =
  | { kind: 'key'; keyId: string; viaArn: boolean }
  | { kind: 'alias'; aliasName: string; viaArn: boolean };

const ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;


export const isKeyId = (value: string): boolean => isRegionalKeyId(value) || isMultiRegionKeyId(value);
/** A fresh key id; a multi-Region key's says so itself, as AWS's do, so nothing else needs to record it. */
export const newKeyId = (multiRegion: boolean): string =>
  multiRegion ? `${MULTI_REGION_KEY_PREFIX}${randomBytes(16).toString('hex')}` : randomUUID();
export const keyArn = (region: string, account: string, keyId: string): string =>
  `arn:${partitionOf(region)}:kms:${region}:${account}:key/${keyId}`;
export const aliasArn = (region: string, account: string, aliasName: string): string =>
  `arn:${partitionOf(region)}:kms:${region}:${account}:${aliasName}`;

/**
 * AWS's NotFoundException wording for a missing key and a missing alias, by ARN. They differ ("does not exist"
 * against "is not found."), and an alias ARN of another region or account is as missing as one never made here.
 */
export const keyNotFound = (keyArn: string): KmsError => new KmsError('NotFoundException', `Key '${keyArn}' does not exist`);
export const aliasNotFound = (aliasArn: string): KmsError => new KmsError('NotFoundException', `Alias '${aliasArn}' is not found.`);

/**
 * Parses a KeyId parameter. ARNs naming another partition (the region's: partition.ts), region or account cannot exist here:
 * NotFoundException, as AWS answers for a key it does not hold. `allowAlias` is false for management operations,
 * which take key ids and key ARNs only.
 */
export function parseKeyIdentifier(value: string, region: string, account: string, allowAlias: boolean): KeyIdentifier {
  let parsed: KeyIdentifier;
  if (value.startsWith('arn:')) {
    const match = ARN.exec(value);
    if (match === null) throw new KmsError('InvalidArnException', 'The ARN in the request is not valid.');
    const [, partition, arnRegion, arnAccount, type, resource] = match as unknown as [string, string, string, string, string, string];
    if (arnRegion !== region || arnAccount !== account || partition !== partitionOf(region)) {
      throw type === 'key' ? keyNotFound(value) : aliasNotFound(value);
    }
    parsed = type === 'key' ? { kind: 'key', keyId: resource, viaArn: true } : { kind: 'alias', aliasName: `alias/${resource}`, viaArn: true };
  } else if (value.startsWith('alias/')) {
    parsed = { kind: 'alias', aliasName: value, viaArn: false };
  } else {
    parsed = { kind: 'key', keyId: value, viaArn: false };
  }
  if (parsed.kind === 'key' && !isKeyId(parsed.keyId)) throw new KmsError('NotFoundException', 'Invalid keyId');
  if (parsed.kind === 'alias' && !allowAlias) throw new KmsError('NotFoundException', 'Invalid keyId');
  return parsed;
}
