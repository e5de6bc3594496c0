// The AWS partition a Region belongs to: the second field of every ARN (kms-api.md section 4). The AWS
// Encryption SDK's discovery filters compare it, so a key made for KMS_REGION=cn-north-1 must say aws-cn.

/** Region-name prefixes of the partitions other than `aws`; a prefix that extends another comes before it. */
const PARTITIONS: ReadonlyArray<readonly [prefix: string, partition: string]> = [
  ['us-isob-', 'aws-iso-b'],
  ['us-isof-', 'aws-iso-f'],
  ['eu-isoe-', 'aws-iso-e'],
  ['us-iso-', 'aws-iso'],
  ['us-gov-', 'aws-us-gov'],
  ['cn-', 'aws-cn'],
  ['eusc-', 'aws-eusc'],
];

/** Every partition a Region of KMS_REGION can be in: what the partition field of an IAM or STS ARN may hold. */
export const PARTITION_NAMES: readonly string[] = ['aws', ...PARTITIONS.map(([, partition]) => partition)];

export function partitionOf(region: string): string {
  for (const [prefix, partition] of PARTITIONS) if (region.startsWith(prefix)) return partition;
  return 'aws';
}
