// ARNs carry the partition of KMS_REGION (kms-api.md section 4: aws, aws-cn, aws-us-gov): a server for a China
// Region makes `arn:aws-cn:...` key and alias ARNs and a default key policy naming `arn:aws-cn:iam::...:root`,
// and an ARN of another partition names no key of its own. The AWS Encryption SDK's discovery filters compare
// this field, so it must be right.
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DescribeKeyCommand, EncryptCommand, GetKeyPolicyCommand,
  ListAliasesCommand, ListGrantsCommand, ListKeysCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { serverForFile } from '../support/file-server.js';
import { failure } from '../support/sdk-errors.js';

const ACCOUNT = '111122223333';

// Beyond kms-api.md's three, the isolated and sovereign partitions: the engine names its own root in them too.
describe.each([
  ['cn-north-1', 'aws-cn'],
  ['us-gov-west-1', 'aws-us-gov'],
  ['us-iso-east-1', 'aws-iso'],
  ['us-isob-east-1', 'aws-iso-b'],
  ['us-isof-south-1', 'aws-iso-f'],
  ['eu-isoe-west-1', 'aws-iso-e'],
  ['eusc-de-east-1', 'aws-eusc'],
])('KMS_REGION=%s', (region, partition) => {
  const shared = serverForFile({ env: { KMS_REGION: region, KMS_ACCOUNT_ID: ACCOUNT } });

  it(`makes ${partition} ARNs and names the account root in that partition`, async () => {
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata!.KeyId!;
    const arn = `arn:${partition}:kms:${region}:${ACCOUNT}:key/${keyId}`;
    expect(KeyMetadata!.Arn).toBe(arn);
    expect((await shared.kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys).toContainEqual({ KeyId: keyId, KeyArn: arn });
    const policy = JSON.parse((await shared.kms.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy!);
    expect(policy.Statement[0].Principal).toEqual({ AWS: `arn:${partition}:iam::${ACCOUNT}:root` });

    const aliasName = `alias/in-${partition}`;
    await shared.kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: keyId }));
    const { Aliases } = await shared.kms.send(new ListAliasesCommand({ KeyId: keyId }));
    expect(Aliases!.map((alias) => alias.AliasArn)).toEqual([`arn:${partition}:kms:${region}:${ACCOUNT}:${aliasName}`]);

    // Its own partition's ARNs name the key; the same ARN in the aws partition names nothing here.
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.KeyId).toBe(keyId);
    const { KeyId } = await shared.kms.send(new EncryptCommand({
      KeyId: `arn:${partition}:kms:${region}:${ACCOUNT}:${aliasName}`, Plaintext: Buffer.from('x'),
    }));
    expect(KeyId).toBe(arn);
    await shared.kms.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: `arn:${partition}:iam::${ACCOUNT}:root`, Operations: ['Encrypt'] }));
    const { Grants } = await shared.kms.send(new ListGrantsCommand({ KeyId: arn }));
    expect(Grants!.map((grant) => grant.IssuingAccount)).toEqual([`arn:${partition}:iam::${ACCOUNT}:root`]);

    const elsewhere = `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;
    expect(await failure(shared.kms.send(new DescribeKeyCommand({ KeyId: elsewhere }))))
      .toEqual({ name: 'NotFoundException', status: 404, message: `Key '${elsewhere}' does not exist` });
  });
});
