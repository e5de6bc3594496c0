// The AWS partition a Region belongs to: the second field of every ARN (kms-api.md section 4). The AWS
// Encryption SDK's discovery filters compare it, so a key made for KMS_REGION=cn-north-1 must say aws-cn.

/** Region-name prefixes of the partitions other than `aws`, longest first. */
const PARTITIONS: ReadonlyArray<readonly [prefix: string, partition: string]> = [
  ['us-isob-', 'aws-iso-b'],
  ['us-iso-', 'aws-iso'],
  ['us-gov-', 'aws-us-gov'],
  ['cn-', 'aws-cn'],
];

export function partitionOf(region: string): string {
  for (const [prefix, partition] of PARTITIONS) if (region.startsWith(prefix)) return partition;
  return 'aws';
}
