// The call sequences infrastructure-as-code tools make, replayed with the AWS SDK against the real server: what
// the Terraform AWS provider's KMS resources call to create, refresh (read back), import and destroy a resource,
// each call with the inputs the provider gives it. A refusal the provider does not expect fails its plan or apply.
import { randomBytes } from 'node:crypto';
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DeleteAliasCommand, DescribeKeyCommand, DisableKeyCommand,
  EnableKeyRotationCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand, GetParametersForImportCommand, ImportKeyMaterialCommand,
  ListAliasesCommand, ListGrantsCommand, ListResourceTagsCommand, PutKeyPolicyCommand, RetireGrantCommand, ScheduleKeyDeletionCommand,
  TagResourceCommand, UntagResourceCommand, UpdateAliasCommand, UpdateKeyDescriptionCommand,
  type AliasListEntry, type GrantListEntry, type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { wrapWithOpenssl } from '../import/openssl-wrap.js';
import { serverForFile } from '../support/file-server.js';
import { failure } from '../support/sdk-errors.js';

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

describe('aws_kms_key lifecycle', () => {
  it('create, update, import by ARN and destroy: every read answers, and the destroyed key reads as pending deletion', async () => {
    const root = `arn:aws:iam::${shared.server.accountId}:root`;
    const policy = (sid: string) => JSON.stringify({ Version: '2012-10-17', Id: 'terraform', Statement: [
      { Sid: sid, Effect: 'Allow', Principal: { AWS: root }, Action: 'kms:*', Resource: '*' }] });
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({
      Policy: policy('Enable IAM User Permissions'), Description: 'managed by terraform', KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT', Tags: [{ TagKey: 'env', TagValue: 'prod' }], MultiRegion: false, BypassPolicyLockoutSafetyCheck: false,
    }));
    const { KeyId: keyId, Arn: arn } = KeyMetadata!;
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 180 }));
    const created = await refreshKey(keyId!);
    expect(created.policy).toBe(policy('Enable IAM User Permissions'));
    expect(created.rotation).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180 });

    // An apply that changes every updatable attribute, in the provider's order; the key is disabled last.
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    await shared.kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: '' }));
    await shared.kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: policy('Admins'), BypassPolicyLockoutSafetyCheck: false }));
    await shared.kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['env'] }));
    await shared.kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'team', TagValue: 'platform' }] }));
    await shared.kms.send(new DisableKeyCommand({ KeyId: keyId }));

    // terraform import by ARN: the ARN becomes the resource id every later call sends.
    const imported = await refreshKey(arn!);
    expect(imported.metadata).toMatchObject({ KeyId: keyId, Arn: arn, Description: '', Enabled: false, KeyState: 'Disabled' });
    expect(imported.policy).toBe(policy('Admins'));
    expect(imported.rotation).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    expect(imported.tags).toEqual([{ TagKey: 'team', TagValue: 'platform' }]);

    const scheduled = await shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }));
    expect(scheduled).toMatchObject({ KeyId: arn, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata)
      .toMatchObject({ KeyState: 'PendingDeletion', Enabled: false, DeletionDate: scheduled.DeletionDate });
    // A second destroy is a success for the provider only while the refusal says "is pending deletion".
    expect(await failure(shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }))))
      .toEqual({ name: 'KMSInvalidStateException', status: 409, message: `${arn} is pending deletion.` });
  });
});

describe('aws_kms_external_key', () => {
  it('imports material wrapped by OpenSSL with ValidTo, re-imports it to move ValidTo, and is destroyed without material', async () => {
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', Description: 'byok', KeyUsage: 'ENCRYPT_DECRYPT' }));
    const keyId = KeyMetadata!.KeyId!;
    const material = randomBytes(32);
    const importUntil = async (validTo: Date) => {
      const parameters = await shared.kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
      await shared.kms.send(new ImportKeyMaterialCommand({
        KeyId: keyId, ImportToken: parameters.ImportToken, ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo,
        EncryptedKeyMaterial: wrapWithOpenssl(parameters.PublicKey!, 'RSAES_OAEP_SHA_256', material),
      }));
      return (await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    };
    // The provider parses valid_to as RFC 3339 (whole seconds) and compares DescribeKey's ValidTo with it.
    const day = 86_400_000;
    const first = new Date(Math.floor((Date.now() + 30 * day) / 1000) * 1000);
    expect(await importUntil(first)).toMatchObject({ KeyState: 'Enabled', Origin: 'EXTERNAL', ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: first });
    const later = new Date(first.getTime() + 60 * day);
    expect(await importUntil(later)).toMatchObject({ KeyState: 'Enabled', ValidTo: later });

    const pending = (await shared.kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!;
    expect(await shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: pending.KeyId, PendingWindowInDays: 7 })))
      .toMatchObject({ KeyState: 'PendingDeletion' });
  });
});

describe('aws_kms_alias and aws_kms_grant', () => {
  async function everyPage<T>(list: (marker: string | undefined) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
    const all: T[] = [];
    let marker: string | undefined;
    do {
      const page = await list(marker);
      all.push(...page.items);
      marker = page.next;
    } while (marker !== undefined);
    return all;
  }

  it('an alias is found by paging ListAliases, follows UpdateAlias, and is gone after DeleteAlias', async () => {
    const [first, second] = await Promise.all([0, 1].map(async () => (await shared.kms.send(new CreateKeyCommand({}))).KeyMetadata!));
    const names = Array.from({ length: 5 }, (_, i) => `alias/terraform/tf-${String(i).padStart(26, '0')}`);
    for (const name of names) await shared.kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: first.Arn }));
    const aliases = () => everyPage<AliasListEntry>(async (marker) => {
      const page = await shared.kms.send(new ListAliasesCommand({ Limit: 2, Marker: marker }));
      return { items: page.Aliases!, next: page.NextMarker };
    });
    const region = shared.server.region;
    expect((await aliases()).find((alias) => alias.AliasName === names[4])).toMatchObject({
      AliasArn: `arn:aws:kms:${region}:${shared.server.accountId}:${names[4]}`, TargetKeyId: first.KeyId,
    });
    await shared.kms.send(new UpdateAliasCommand({ AliasName: names[4], TargetKeyId: second.Arn }));
    // data "aws_kms_alias" reads the target with DescribeKey by the alias name.
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: names[4] }))).KeyMetadata).toMatchObject({ KeyId: second.KeyId, Arn: second.Arn });
    await shared.kms.send(new DeleteAliasCommand({ AliasName: names[4] }));
    expect((await aliases()).map((alias) => alias.AliasName)).not.toContain(names[4]);
  });

  it('a grant is found by paging ListGrants, retired by GrantId and key ARN or by its token, and a second retire is NotFoundException', async () => {
    const key = (await shared.kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    const grantee = `arn:aws:iam::${shared.server.accountId}:root`;
    const grants = await Promise.all(['a', 'b', 'c'].map(async (name) => shared.kms.send(new CreateGrantCommand({
      KeyId: key.KeyId, GranteePrincipal: grantee, RetiringPrincipal: grantee, Operations: ['Encrypt', 'Decrypt'], Name: `tf-${name}`,
      Constraints: { EncryptionContextSubset: { app: name } },
    }))));
    const listed = () => everyPage<GrantListEntry>(async (marker) => {
      const page = await shared.kms.send(new ListGrantsCommand({ KeyId: key.KeyId, Limit: 100, Marker: marker }));
      return { items: page.Grants!, next: page.NextMarker };
    });
    expect((await listed()).find((grant) => grant.GrantId === grants[2].GrantId)).toMatchObject({
      KeyId: key.Arn, Name: 'tf-c', GranteePrincipal: grantee, RetiringPrincipal: grantee, Constraints: { EncryptionContextSubset: { app: 'c' } },
    });
    await shared.kms.send(new RetireGrantCommand({ GrantId: grants[0].GrantId, KeyId: key.Arn }));
    await shared.kms.send(new RetireGrantCommand({ GrantToken: grants[1].GrantToken }));
    expect((await listed()).map((grant) => grant.GrantId)).toEqual([grants[2].GrantId]);
    expect(await failure(shared.kms.send(new RetireGrantCommand({ GrantId: grants[0].GrantId, KeyId: key.Arn }))))
      .toMatchObject({ name: 'NotFoundException', status: 404 });
  });
});
