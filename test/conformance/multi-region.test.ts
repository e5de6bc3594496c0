// Multi-Region keys through the AWS SDK against the real server: CreateKey MultiRegion makes a primary with an
// `mrk-` id and its MultiRegionConfiguration, every key spec works under it as under a single-Region key (the
// symmetric ciphertext names the mrk- key so Decrypt needs no KeyId), policies see kms:MultiRegion,
// kms:MultiRegionKeyType, kms:ReplicaRegion and kms:PrimaryRegion, and ReplicateKey / UpdatePrimaryRegion find
// and check the key before refusing the other Region (the engine serves one).
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand,
  GenerateDataKeyCommand, GenerateMacCommand, GetPublicKeyCommand, ListKeysCommand, ReEncryptCommand,
  ReplicateKeyCommand, SignCommand, UpdatePrimaryRegionCommand, VerifyMacCommand, type CreateKeyCommandInput,
} from '@aws-sdk/client-kms';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { failure } from '../support/sdk-errors.js';
import { serverForFile } from '../support/file-server.js';

const MRK_ID = /^mrk-[0-9a-f]{32}$/;
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const shared = serverForFile();

async function newKey(input: CreateKeyCommandInput = {}) {
  const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand(input));
  return KeyMetadata!;
}

describe('multi-Region keys', () => {
  it('CreateKey MultiRegion makes a primary: mrk- id, ARN and configuration; DescribeKey and ListKeys agree', async () => {
    const key = await newKey({ MultiRegion: true, Description: 'primary' });
    expect(key.KeyId).toMatch(MRK_ID);
    expect(key.Arn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${key.KeyId}`);
    expect(key).toMatchObject({ MultiRegion: true, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', Origin: 'AWS_KMS' });
    expect(key.MultiRegionConfiguration).toEqual({
      MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: key.Arn, Region: REGION }, ReplicaKeys: [],
    });
    const described = (await shared.kms.send(new DescribeKeyCommand({ KeyId: key.Arn }))).KeyMetadata!;
    expect(described).toEqual(key);
    const { Keys } = await shared.kms.send(new ListKeysCommand({ Limit: 1000 }));
    expect(Keys).toContainEqual({ KeyId: key.KeyId, KeyArn: key.Arn });

    const regional = await newKey({ MultiRegion: false });
    expect(regional.KeyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(regional.MultiRegion).toBe(false);
    expect(regional.MultiRegionConfiguration).toBeUndefined();
  });

  it('a symmetric primary encrypts; its ciphertext names it, so Decrypt and ReEncrypt need no KeyId', async () => {
    const mrk = await newKey({ MultiRegion: true });
    const regional = await newKey();
    const plaintext = Buffer.from('multi-Region plaintext');
    const context = { purpose: 'mrk-test' };
    const sealed = await shared.kms.send(new EncryptCommand({ KeyId: mrk.KeyId, Plaintext: plaintext, EncryptionContext: context }));
    expect(sealed.KeyId).toBe(mrk.Arn);

    const opened = await shared.kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: context }));
    expect(opened.KeyId).toBe(mrk.Arn);
    expect(Buffer.from(opened.Plaintext!)).toEqual(plaintext);
    expect(await failure(shared.kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: context, KeyId: regional.KeyId }))))
      .toMatchObject({ name: 'IncorrectKeyException', status: 400 });

    // Both ways between a multi-Region and a single-Region key.
    const toRegional = await shared.kms.send(new ReEncryptCommand({
      CiphertextBlob: sealed.CiphertextBlob, SourceEncryptionContext: context, DestinationKeyId: regional.KeyId,
    }));
    expect(toRegional).toMatchObject({ SourceKeyId: mrk.Arn, KeyId: regional.Arn });
    const back = await shared.kms.send(new ReEncryptCommand({ CiphertextBlob: toRegional.CiphertextBlob, DestinationKeyId: mrk.Arn }));
    expect(back).toMatchObject({ SourceKeyId: regional.Arn, KeyId: mrk.Arn });
    const again = await shared.kms.send(new DecryptCommand({ CiphertextBlob: back.CiphertextBlob }));
    expect(Buffer.from(again.Plaintext!)).toEqual(plaintext);

    const dataKey = await shared.kms.send(new GenerateDataKeyCommand({ KeyId: mrk.Arn, KeySpec: 'AES_256' }));
    const unwrapped = await shared.kms.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }));
    expect(Buffer.from(unwrapped.Plaintext!)).toEqual(Buffer.from(dataKey.Plaintext!));
  });

  it('asymmetric and HMAC primaries sign (checked by OpenSSL) and MAC like single-Region keys', async () => {
    const signing = await newKey({ MultiRegion: true, KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(signing.KeyId).toMatch(MRK_ID);
    const message = Buffer.from('signed by a multi-Region key');
    const { Signature } = await shared.kms.send(new SignCommand({ KeyId: signing.KeyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }));
    const { PublicKey } = await shared.kms.send(new GetPublicKeyCommand({ KeyId: signing.KeyId }));
    const publicKey = createPublicKey({ key: Buffer.from(PublicKey!), format: 'der', type: 'spki' });
    expect(verifySignature('sha256', message, publicKey, Buffer.from(Signature!))).toBe(true);

    const mac = await newKey({ MultiRegion: true, KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const { Mac } = await shared.kms.send(new GenerateMacCommand({ KeyId: mac.KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' }));
    const verified = await shared.kms.send(new VerifyMacCommand({ KeyId: mac.KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256', Mac }));
    expect(verified.MacValid).toBe(true);
  });

  it('aliases and grants name a primary like any key', async () => {
    const mrk = await newKey({ MultiRegion: true });
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/mrk-primary', TargetKeyId: mrk.KeyId }));
    const viaAlias = (await shared.kms.send(new DescribeKeyCommand({ KeyId: 'alias/mrk-primary' }))).KeyMetadata!;
    expect(viaAlias.KeyId).toBe(mrk.KeyId);

    const grant = await shared.kms.send(new CreateGrantCommand({
      KeyId: mrk.Arn, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/app`, Operations: ['Encrypt'],
    }));
    const withToken = await shared.kms.send(new EncryptCommand({ KeyId: mrk.KeyId, Plaintext: Buffer.from('x'), GrantTokens: [grant.GrantToken!] }));
    expect(withToken.KeyId).toBe(mrk.Arn);
  });

  it('key policies see kms:MultiRegion and kms:MultiRegionKeyType', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
        { Sid: 'no-mrk-encrypt', Effect: 'Deny', Principal: '*', Action: 'kms:Encrypt', Resource: '*', Condition: { Bool: { 'kms:MultiRegion': 'true' } } },
        { Sid: 'no-primary-data-keys', Effect: 'Deny', Principal: '*', Action: 'kms:GenerateDataKey', Resource: '*', Condition: { StringEquals: { 'kms:MultiRegionKeyType': 'PRIMARY' } } },
      ],
    });
    const mrk = await newKey({ MultiRegion: true, Policy: policy });
    const regional = await newKey({ Policy: policy });
    const plaintext = Buffer.from('policy check');
    expect(await failure(shared.kms.send(new EncryptCommand({ KeyId: mrk.KeyId, Plaintext: plaintext }))))
      .toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(await failure(shared.kms.send(new GenerateDataKeyCommand({ KeyId: mrk.KeyId, KeySpec: 'AES_256' }))))
      .toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect((await shared.kms.send(new EncryptCommand({ KeyId: regional.KeyId, Plaintext: plaintext }))).KeyId).toBe(regional.Arn);
    expect((await shared.kms.send(new GenerateDataKeyCommand({ KeyId: regional.KeyId, KeySpec: 'AES_256' }))).KeyId).toBe(regional.Arn);
  });

  it('key policies see kms:ReplicaRegion and kms:PrimaryRegion: a denied Region is AccessDenied before the Region refusal', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
        { Sid: 'no-eu-replica', Effect: 'Deny', Principal: '*', Action: 'kms:ReplicateKey', Resource: '*', Condition: { StringEquals: { 'kms:ReplicaRegion': 'eu-west-1' } } },
        { Sid: 'no-eu-primary', Effect: 'Deny', Principal: '*', Action: 'kms:UpdatePrimaryRegion', Resource: '*', Condition: { StringEquals: { 'kms:PrimaryRegion': 'eu-west-1' } } },
      ],
    });
    const mrk = await newKey({ MultiRegion: true, Policy: policy });
    expect(await failure(shared.kms.send(new ReplicateKeyCommand({ KeyId: mrk.KeyId, ReplicaRegion: 'eu-west-1' }))))
      .toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(await failure(shared.kms.send(new UpdatePrimaryRegionCommand({ KeyId: mrk.KeyId, PrimaryRegion: 'eu-west-1' }))))
      .toMatchObject({ name: 'AccessDeniedException', status: 400 });
    // Another Region passes the policy and meets the engine's one-Region refusal.
    expect(await failure(shared.kms.send(new ReplicateKeyCommand({ KeyId: mrk.KeyId, ReplicaRegion: 'ap-south-1' }))))
      .toMatchObject({ name: 'UnsupportedOperationException', status: 400 });
    expect(await failure(shared.kms.send(new UpdatePrimaryRegionCommand({ KeyId: mrk.KeyId, PrimaryRegion: 'ap-south-1' }))))
      .toMatchObject({ name: 'UnsupportedOperationException', status: 400 });
  });

  it('ReplicateKey and UpdatePrimaryRegion check the key (and the replica\'s policy and tags), then refuse another Region', async () => {
    const mrk = await newKey({ MultiRegion: true });
    const regional = await newKey();

    const replicate = await failure(shared.kms.send(new ReplicateKeyCommand({ KeyId: mrk.Arn, ReplicaRegion: 'eu-west-1' })));
    expect(replicate).toMatchObject({ name: 'UnsupportedOperationException', status: 400 });
    expect(replicate.message).toContain(`only Region ${REGION}`);
    expect(replicate.message).toContain('eu-west-1');
    const promote = await failure(shared.kms.send(new UpdatePrimaryRegionCommand({ KeyId: mrk.KeyId, PrimaryRegion: 'eu-west-1' })));
    expect(promote).toMatchObject({ name: 'UnsupportedOperationException', status: 400 });
    expect(promote.message).toContain('no replica in eu-west-1');

    const notMultiRegion = await failure(shared.kms.send(new ReplicateKeyCommand({ KeyId: regional.KeyId, ReplicaRegion: 'eu-west-1' })));
    expect(notMultiRegion).toMatchObject({ name: 'UnsupportedOperationException', message: `${regional.Arn} is not a multi-Region key.` });
    expect(await failure(shared.kms.send(new UpdatePrimaryRegionCommand({ KeyId: regional.KeyId, PrimaryRegion: 'eu-west-1' }))))
      .toMatchObject({ name: 'UnsupportedOperationException', message: `${regional.Arn} is not a multi-Region key.` });

    // The replica's own policy and tags are checked as CreateKey checks them: a mistake in them is named first.
    expect(await failure(shared.kms.send(new ReplicateKeyCommand({ KeyId: mrk.KeyId, ReplicaRegion: 'eu-west-1', Policy: '{"Statement": [' }))))
      .toMatchObject({ name: 'MalformedPolicyDocumentException', status: 400 });
    expect(await failure(shared.kms.send(new ReplicateKeyCommand({
      KeyId: mrk.KeyId, ReplicaRegion: 'eu-west-1', Tags: [{ TagKey: 'aws:reserved', TagValue: 'x' }],
    })))).toMatchObject({ name: 'TagException', status: 400 });
    const lockout = JSON.stringify({ Version: '2012-10-17', Statement: [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:Encrypt', Resource: '*' },
    ] });
    expect(await failure(shared.kms.send(new ReplicateKeyCommand({ KeyId: mrk.KeyId, ReplicaRegion: 'eu-west-1', Policy: lockout }))))
      .toMatchObject({ name: 'MalformedPolicyDocumentException', status: 400 });
    expect(await failure(shared.kms.send(new ReplicateKeyCommand({
      KeyId: mrk.KeyId, ReplicaRegion: 'eu-west-1', Policy: lockout, BypassPolicyLockoutSafetyCheck: true, Tags: [{ TagKey: 'team', TagValue: 'a' }],
    })))).toMatchObject({ name: 'UnsupportedOperationException', status: 400 });

    const unknown = `mrk-${'0'.repeat(32)}`;
    expect(await failure(shared.kms.send(new ReplicateKeyCommand({ KeyId: unknown, ReplicaRegion: 'eu-west-1' }))))
      .toMatchObject({ name: 'NotFoundException', status: 404 });
  });
});
