// Policy evaluation end to end, for what policies.test.ts does not cover: IAM policy variables in condition
// values (kms-api.md 8.3), kms:ResourceAliases, attribute-based access with aws:ResourceTag / aws:RequestTag /
// aws:TagKeys, and the global keys aws:SourceIp (IpAddress/NotIpAddress) and aws:CurrentTime, through the real
// AWS SDK against one real server whose identities have the IAM policies below.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient, PutKeyPolicyCommand,
  TagResourceCommand, UntagResourceCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';
import {
  ACCOUNT, CIPHERTEXT_KEY, accountAdmin, createKeyAs, failure, identityPolicy, keyPolicy, REGION, resourcePhrase, ROOT_ARN, userArn,
} from './support.js';

/** Every identity here, with the IAM policies its test relies on. */
const IDENTITIES = {
  // Encrypt only under its own user name in the context; Decrypt only keys under alias/finance-*.
  scoped: {
    arn: userArn('scoped'),
    policies: [identityPolicy(
      { Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:user': '${aws:username}' } } },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*', Condition: { 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/finance-*' } } },
    )],
  },
  // ABAC: uses keys tagged team=blue, creates and tags keys only with team=blue and no other tag key.
  blue: {
    arn: userArn('blue'),
    policies: [identityPolicy(
      { Effect: 'Allow', Action: 'kms:DescribeKey', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/Team': 'blue' } } },
      { Effect: 'Allow', Action: ['kms:CreateKey', 'kms:TagResource'], Resource: '*',
        Condition: { StringEquals: { 'aws:RequestTag/team': 'blue' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } } },
      { Effect: 'Allow', Action: 'kms:UntagResource', Resource: '*', Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['scratch'] } } },
    )],
  },
  // No IAM policy: only key policies that name it let it in.
  plain: { arn: userArn('plain'), policies: [] },
};
type Name = keyof typeof IDENTITIES | 'root';

const credentialsOf = (name: Name) => ({
  accessKeyId: `AKIAEVAL${name.toUpperCase().padEnd(12, 'X')}`,
  secretAccessKey: `secret-of-${name}-${'e'.repeat(24)}`,
});
const arnOf = (name: Name): string => (name === 'root' ? ROOT_ARN : IDENTITIES[name].arn);

let server: TestServer;
const clients = new Map<Name, KMSClient>();
const as = (name: Name): KMSClient => {
  let client = clients.get(name);
  if (client === undefined) clients.set(name, client = server.client({ credentials: credentialsOf(name) }));
  return client;
};

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kms-engine-policy-eval-'));
  const file = join(dir, 'identities.json');
  writeFileSync(file, JSON.stringify({
    identities: Object.entries(IDENTITIES).map(([name, spec]) => ({ ...credentialsOf(name as Name), arn: spec.arn, policies: spec.policies })),
  }));
  const root = credentialsOf('root');
  server = await startServer({
    dataDir: dir,
    env: { KMS_ACCESS_KEY_ID: root.accessKeyId, KMS_SECRET_ACCESS_KEY: root.secretAccessKey, KMS_IDENTITIES: file, KMS_ACCOUNT_ID: ACCOUNT, KMS_REGION: REGION },
  });
});
afterAll(async () => {
  await server?.remove();
});

const plaintext = Buffer.from('policy evaluation');
const encrypt = (client: KMSClient, KeyId: string, EncryptionContext?: Record<string, string>) =>
  client.send(new EncryptCommand({ KeyId, Plaintext: plaintext, EncryptionContext }));
const denied = (who: Name, action: string, resource: string | typeof CIPHERTEXT_KEY, why: 'no-identity' | 'no-resource' | 'deny-resource') => ({
  name: 'AccessDeniedException', status: 400,
  message: `User: ${arnOf(who)} is not authorized to perform: ${action} on ${resourcePhrase(resource)} ${{
    'no-identity': `because no identity-based policy allows the ${action} action`,
    'no-resource': `because no resource-based policy allows the ${action} action`,
    'deny-resource': 'with an explicit deny in a resource-based policy',
  }[why]}`,
});

describe('policy variables in condition values', () => {
  it('${aws:username} in an identity policy is the caller\'s user name, not the literal text', async () => {
    const { keyId, arn } = await createKeyAs(as('root'));
    await encrypt(as('scoped'), keyId, { user: 'scoped' });
    expect(await failure(encrypt(as('scoped'), keyId, { user: '${aws:username}' }))).toEqual(denied('scoped', 'kms:Encrypt', arn, 'no-identity'));
    expect(await failure(encrypt(as('scoped'), keyId, { user: 'someone-else' }))).toEqual(denied('scoped', 'kms:Encrypt', arn, 'no-identity'));
  });

  it('in a key policy: StringLike keeps its wildcards, ${*} is a literal star, an absent key matches nothing', async () => {
    const { keyId, arn } = await createKeyAs(as('root'), { Policy: keyPolicy(accountAdmin,
      { Effect: 'Allow', Principal: { AWS: arnOf('plain') }, Action: 'kms:Encrypt', Resource: '*',
        Condition: { StringLike: { 'kms:EncryptionContext:owner': ['${aws:PrincipalAccount}/*', 'star-${*}'] } } },
      { Effect: 'Allow', Principal: { AWS: arnOf('plain') }, Action: 'kms:DescribeKey', Resource: '*',
        Condition: { StringEquals: { 'kms:EncryptionContext:owner': '${aws:username}' } } }) });
    const plain = as('plain');
    await encrypt(plain, keyId, { owner: `${ACCOUNT}/anything` });
    await encrypt(plain, keyId, { owner: 'star-*' });
    const refused = denied('plain', 'kms:Encrypt', arn, 'no-identity');
    expect(await failure(encrypt(plain, keyId, { owner: '444455556666/anything' }))).toEqual(refused);
    expect(await failure(encrypt(plain, keyId, { owner: 'star-x' }))).toEqual(refused);
    expect(await failure(encrypt(plain, keyId, { owner: '${aws:PrincipalAccount}/x' }))).toEqual(refused);
    // DescribeKey has no encryption context: the variable's key is absent on the request, and nothing matches.
    expect(await failure(plain.send(new DescribeKeyCommand({ KeyId: keyId })))).toEqual(denied('plain', 'kms:DescribeKey', arn, 'no-identity'));
  });

  it('a policy of Version 2008-10-17 has no variables: ${...} is plain text there', async () => {
    const policy = JSON.stringify({ Version: '2008-10-17', Statement: [accountAdmin,
      { Effect: 'Allow', Principal: { AWS: arnOf('plain') }, Action: 'kms:Encrypt', Resource: '*',
        Condition: { StringEquals: { 'kms:EncryptionContext:user': '${aws:username}' } } }] });
    const { keyId, arn } = await createKeyAs(as('root'), { Policy: policy });
    await encrypt(as('plain'), keyId, { user: '${aws:username}' });
    expect(await failure(encrypt(as('plain'), keyId, { user: 'plain' }))).toEqual(denied('plain', 'kms:Encrypt', arn, 'no-identity'));
  });
});

describe('kms:ResourceAliases', () => {
  it('is the list of the key\'s aliases, as they are at the time of the call', async () => {
    const { keyId, arn } = await createKeyAs(as('root'));
    const { CiphertextBlob } = await encrypt(as('root'), keyId);
    const decrypt = () => as('scoped').send(new DecryptCommand({ CiphertextBlob }));
    expect(await failure(decrypt())).toEqual(denied('scoped', 'kms:Decrypt', CIPHERTEXT_KEY, 'no-identity'));
    await as('root').send(new CreateAliasCommand({ AliasName: `alias/other-${keyId}`, TargetKeyId: keyId }));
    expect(await failure(decrypt())).toEqual(denied('scoped', 'kms:Decrypt', CIPHERTEXT_KEY, 'no-identity'));
    await as('root').send(new CreateAliasCommand({ AliasName: `alias/finance-${keyId}`, TargetKeyId: keyId }));
    expect(Buffer.from((await decrypt()).Plaintext!)).toEqual(plaintext);
  });
});

describe('attribute-based access: aws:ResourceTag, aws:RequestTag, aws:TagKeys', () => {
  it('aws:ResourceTag/<key> is the key\'s tag (tag key case-insensitive in the condition key)', async () => {
    const { keyId, arn } = await createKeyAs(as('root'), { Tags: [{ TagKey: 'team', TagValue: 'blue' }] });
    await as('blue').send(new DescribeKeyCommand({ KeyId: keyId }));
    const red = await createKeyAs(as('root'), { Tags: [{ TagKey: 'team', TagValue: 'red' }] });
    expect(await failure(as('blue').send(new DescribeKeyCommand({ KeyId: red.keyId })))).toEqual(denied('blue', 'kms:DescribeKey', red.arn, 'no-identity'));
    // Retagging the key changes the decision at once.
    await as('root').send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'team', TagValue: 'green' }] }));
    expect(await failure(as('blue').send(new DescribeKeyCommand({ KeyId: keyId })))).toEqual(denied('blue', 'kms:DescribeKey', arn, 'no-identity'));
  });

  it('aws:RequestTag/<key> and aws:TagKeys are the tags CreateKey and TagResource set, and UntagResource removes', async () => {
    const blue = as('blue');
    const { KeyMetadata } = await blue.send(new CreateKeyCommand({ Tags: [{ TagKey: 'team', TagValue: 'blue' }] }));
    const keyId = KeyMetadata!.KeyId!;
    const refusedCreate = denied('blue', 'kms:CreateKey', '*', 'no-identity');
    expect(await failure(blue.send(new CreateKeyCommand({})))).toEqual(refusedCreate);
    expect(await failure(blue.send(new CreateKeyCommand({ Tags: [{ TagKey: 'team', TagValue: 'red' }] })))).toEqual(refusedCreate);
    expect(await failure(blue.send(new CreateKeyCommand({ Tags: [{ TagKey: 'team', TagValue: 'blue' }, { TagKey: 'cost', TagValue: '1' }] }))))
      .toEqual(refusedCreate);
    await blue.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'team', TagValue: 'blue' }] }));
    expect(await failure(blue.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'team', TagValue: 'red' }] }))))
      .toEqual(denied('blue', 'kms:TagResource', KeyMetadata!.Arn!, 'no-identity'));
    await blue.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['scratch'] }));
    expect(await failure(blue.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['team'] }))))
      .toEqual(denied('blue', 'kms:UntagResource', KeyMetadata!.Arn!, 'no-identity'));
  });
});

describe('global condition keys', () => {
  it('aws:SourceIp with IpAddress and NotIpAddress (IPv4 and IPv6 ranges) is accepted and decides', async () => {
    const statement = (operator: string, ranges: string[]) => ({ Effect: 'Allow', Principal: { AWS: arnOf('plain') }, Action: 'kms:Encrypt',
      Resource: '*', Condition: { [operator]: { 'aws:SourceIp': ranges } } });
    const loopback = await createKeyAs(as('root'), { Policy: keyPolicy(accountAdmin, statement('IpAddress', ['127.0.0.0/8', '::1/128'])) });
    await encrypt(as('plain'), loopback.keyId);
    const elsewhere = await createKeyAs(as('root'), { Policy: keyPolicy(accountAdmin, statement('IpAddress', ['203.0.113.0/24', '2001:db8::/32'])) });
    expect(await failure(encrypt(as('plain'), elsewhere.keyId))).toEqual(denied('plain', 'kms:Encrypt', elsewhere.arn, 'no-identity'));
    // A Deny for every caller outside a range: loopback callers are inside, so only the Allow counts.
    const fenced = await createKeyAs(as('root'), { Policy: keyPolicy(accountAdmin, statement('IpAddress', ['0.0.0.0/0']),
      { Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '127.0.0.1' } } }) });
    const { CiphertextBlob } = await encrypt(as('plain'), fenced.keyId);
    await as('root').send(new DecryptCommand({ CiphertextBlob }));
    await as('root').send(new PutKeyPolicyCommand({ KeyId: fenced.keyId, Policy: keyPolicy(accountAdmin,
      { Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }) }));
    expect(await failure(as('root').send(new DecryptCommand({ CiphertextBlob })))).toEqual(denied('root', 'kms:Decrypt', CIPHERTEXT_KEY, 'deny-resource'));
    // A value that is no address or range is a malformed policy.
    expect(await failure(as('root').send(new PutKeyPolicyCommand({ KeyId: fenced.keyId,
      Policy: keyPolicy(accountAdmin, statement('IpAddress', ['10.0.0.0/33'])) })))).toMatchObject({ name: 'MalformedPolicyDocumentException' });
  });

  it('aws:CurrentTime and aws:EpochTime are the time of the call', async () => {
    const window = (from: string, to: string) => ({ Effect: 'Allow', Principal: { AWS: arnOf('plain') }, Action: 'kms:Encrypt', Resource: '*',
      Condition: { DateGreaterThan: { 'aws:CurrentTime': from }, DateLessThan: { 'aws:EpochTime': to } } });
    const open = await createKeyAs(as('root'), { Policy: keyPolicy(accountAdmin, window('2020-01-01T00:00:00Z', '4102444800')) });
    await encrypt(as('plain'), open.keyId);
    const closed = await createKeyAs(as('root'), { Policy: keyPolicy(accountAdmin, window('2100-01-01T00:00:00Z', '4102444800')) });
    expect(await failure(encrypt(as('plain'), closed.keyId))).toEqual(denied('plain', 'kms:Encrypt', closed.arn, 'no-identity'));
  });
});
