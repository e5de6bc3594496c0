// The call sequences infrastructure-as-code tools make, replayed with the AWS SDK against the real server: what
// the Terraform AWS provider's KMS resources call to create, refresh (read back), import and destroy a resource,
// each call with the inputs the provider gives it. A refusal the provider does not expect fails its plan or apply.
import {
  CreateKeyCommand, DescribeKeyCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand, ListResourceTagsCommand,
  type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';

const shared = serverForFile();

/** aws_kms_key's read: DescribeKey, GetKeyPolicy "default", GetKeyRotationStatus for an AWS_KMS key, ListResourceTags. */
async function refreshKey(keyId: string) {
  const { KeyMetadata } = await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
  const { Policy } = await shared.kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }));
  const rotation = KeyMetadata!.Origin === 'AWS_KMS'
    ? await shared.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))
    : undefined;
  const { Tags } = await shared.kms.send(new ListResourceTagsCommand({ KeyId: keyId }));
  return { metadata: KeyMetadata!, policy: Policy!, rotation, tags: Tags! };
}

describe('aws_kms_key', () => {
  it('a key of every spec that cannot rotate refreshes: its rotation status reads false, with no period or date', async () => {
    const specs: Array<[KeySpec, KeyUsageType]> = [
      ['RSA_2048', 'ENCRYPT_DECRYPT'], ['RSA_3072', 'SIGN_VERIFY'], ['ECC_NIST_P384', 'SIGN_VERIFY'], ['ECC_SECG_P256K1', 'SIGN_VERIFY'],
      ['ECC_NIST_EDWARDS25519', 'SIGN_VERIFY'], ['ECC_NIST_P256', 'KEY_AGREEMENT'], ['HMAC_256', 'GENERATE_VERIFY_MAC'],
      ['ML_DSA_44', 'SIGN_VERIFY'],
    ];
    for (const [spec, usage] of specs) {
      const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({
        Description: `terraform ${spec}`, KeySpec: spec, KeyUsage: usage, Tags: [{ TagKey: 'Name', TagValue: spec }],
        MultiRegion: false, BypassPolicyLockoutSafetyCheck: false,
      }));
      // Terraform keeps the id it was given (key id, or the ARN after an import) and reads with both alike.
      for (const keyId of [KeyMetadata!.KeyId!, KeyMetadata!.Arn!]) {
        const read = await refreshKey(keyId);
        expect(read.metadata, spec).toMatchObject({ KeySpec: spec, KeyUsage: usage, Origin: 'AWS_KMS', KeyState: 'Enabled' });
        expect(read.rotation, spec).toEqual({ $metadata: expect.anything(), KeyRotationEnabled: false, KeyId: KeyMetadata!.Arn });
        expect(read.tags, spec).toEqual([{ TagKey: 'Name', TagValue: spec }]);
      }
    }
  });
});
