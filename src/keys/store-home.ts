// A store's keys keep the ARN they were made with, and their default key policies name that account. Opened with
// another KMS_REGION or KMS_ACCOUNT_ID, ListKeys listed them under new ARNs while DescribeKey, Encrypt and Decrypt
// answered with the old ones: an AWS key never moves between Regions or accounts, so such a start is refused,
// naming the variable, as any other value that does not fit.
import { ConfigError } from '../config.js';
import { partitionOf } from '../contract/partition.js';
import type { KeyStore } from '../store/types.js';

export async function refuseOtherRegionOrAccount(store: KeyStore, region: string, account: string): Promise<void> {
  const [keyId] = await store.listKeyIds(undefined, 1);
  const key = keyId === undefined ? undefined : await store.getKey(keyId);
  if (key === undefined) return;
  // arn:<partition>:kms:<region>:<account>:key/<id>
  const [, partition, , keyRegion, keyAccount] = key.arn.split(':');
  if (keyRegion !== region || partition !== partitionOf(region)) {
    throw new ConfigError(`KMS_REGION: the store's keys are in ${keyRegion}, not ${region} (key ${key.arn})`);
  }
  if (keyAccount !== account) {
    throw new ConfigError(`KMS_ACCOUNT_ID: the store's keys are in account ${keyAccount}, not ${account} (key ${key.arn})`);
  }
}
