// Unchanged AWS clients against the server: the AWS Encryption SDK (1 MiB envelope round trip) and the
// AWS CLI v2 (Debian's awscli, installed by pretest).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { KMS } from '@aws-sdk/client-kms';
import {
  AwsKmsMrkAwareSymmetricDiscoveryKeyringNode, buildAwsKmsMrkAwareStrictMultiKeyringNode, buildClient, CommitmentPolicy,
  getClient, KmsKeyringNode,
} from '@aws-crypto/client-node';
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DeleteAliasCommand, RevokeGrantCommand, TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);
let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.remove();
});

describe('AWS Encryption SDK', () => {
  it('round-trips 1 MiB through a KMS keyring with a generator and an extra wrapping key', async () => {
    const kms = server.client();
    const generator = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const extra = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const clientProvider = getClient(KMS, { endpoint: server.url, credentials: server.credentials });
    const keyring = new KmsKeyringNode({ generatorKeyId: generator, keyIds: [extra], clientProvider });
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const plaintext = randomBytes(1024 * 1024);
    const context = { purpose: 'conformance', stage: 'test' };
    const { result } = await encrypt(keyring, plaintext, { encryptionContext: context });
    expect(result.length).toBeGreaterThan(plaintext.length);
    const opened = await decrypt(keyring, result);
    expect(Buffer.from(opened.plaintext).equals(plaintext)).toBe(true);
    expect(opened.messageHeader.encryptionContext).toMatchObject(context);
    // A keyring that only knows the extra wrapping key decrypts too: Encrypt's ciphertext works alone.
    const onlyExtra = new KmsKeyringNode({ keyIds: [extra], clientProvider });
    expect(Buffer.from((await decrypt(onlyExtra, result)).plaintext).equals(plaintext)).toBe(true);
  });

  it('round-trips through the multi-Region-aware keyring on a multi-Region key', async () => {
    const kms = server.client();
    const mrk = (await kms.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.Arn!;
    expect(mrk).toMatch(/:key\/mrk-[0-9a-f]{32}$/);
    const clientProvider = getClient(KMS, { endpoint: server.url, credentials: server.credentials });
    const keyring = buildAwsKmsMrkAwareStrictMultiKeyringNode({ generatorKeyId: mrk, clientProvider });
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const plaintext = randomBytes(64 * 1024);
    const { result } = await encrypt(keyring, plaintext, { encryptionContext: { purpose: 'mrk' } });
    const opened = await decrypt(keyring, result);
    expect(Buffer.from(opened.plaintext).equals(plaintext)).toBe(true);
    expect(opened.messageHeader.encryptedDataKeys.map((edk) => edk.providerInfo)).toEqual([mrk]);
  });

  it('discovery keyrings decrypt by the key ARN in each data key, within their account and partition filter', async () => {
    const kms = server.client();
    const [first, second] = await Promise.all([0, 1].map(async () => (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!));
    const mrk = (await kms.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata!.Arn!;
    const client = new KMS({ region: server.region, endpoint: server.url, credentials: server.credentials });
    const clientProvider = getClient(KMS, { endpoint: server.url, credentials: server.credentials });
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const context = { tenant: 'acme' };
    const plaintext = randomBytes(4096);
    const { result } = await encrypt(new KmsKeyringNode({ generatorKeyId: first, keyIds: [second], clientProvider }), plaintext,
      { encryptionContext: context });
    const ours = { accountIDs: [server.accountId], partition: 'aws' };
    const opened = await decrypt(new KmsKeyringNode({ discovery: true, discoveryFilter: ours, clientProvider }), result);
    expect(Buffer.from(opened.plaintext).equals(plaintext)).toBe(true);
    expect(opened.messageHeader.encryptionContext).toMatchObject(context);
    // A filter naming another account skips every data key: nothing decrypts.
    const elsewhere = new KmsKeyringNode({ discovery: true, discoveryFilter: { accountIDs: ['444455556666'], partition: 'aws' }, clientProvider });
    await expect(decrypt(elsewhere, result)).rejects.toThrow();

    const sealed = (await encrypt(buildAwsKmsMrkAwareStrictMultiKeyringNode({ generatorKeyId: mrk, clientProvider }), plaintext)).result;
    const mrkDiscovery = new AwsKmsMrkAwareSymmetricDiscoveryKeyringNode({ client, discoveryFilter: ours });
    expect(Buffer.from((await decrypt(mrkDiscovery, sealed)).plaintext).equals(plaintext)).toBe(true);
  });
});

describe('AWS CLI v2', () => {
  const aws = async (...args: string[]) => {
    const { stdout } = await run('/usr/bin/aws', ['kms', ...args, '--endpoint-url', server.url, '--output', 'json'], {
      env: {
        ...process.env, AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
        AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '',
      },
    });
    return JSON.parse(stdout || '{}') as Record<string, any>;
  };

  it('creates a key, encrypts, decrypts and lists through `aws kms`', async () => {
    const created = await aws('create-key', '--description', 'from the cli');
    const keyId = created.KeyMetadata.KeyId as string;
    expect(created.KeyMetadata.Description).toBe('from the cli');
    const encrypted = await aws('encrypt', '--key-id', keyId, '--plaintext', Buffer.from('cli secret').toString('base64'),
      '--encryption-context', 'app=cli');
    expect(encrypted.KeyId).toBe(created.KeyMetadata.Arn);
    const decrypted = await aws('decrypt', '--ciphertext-blob', encrypted.CiphertextBlob, '--encryption-context', 'app=cli');
    expect(Buffer.from(decrypted.Plaintext, 'base64').toString()).toBe('cli secret');
    const listed = await aws('list-keys');
    expect(listed.Keys.map((k: { KeyId: string }) => k.KeyId)).toContain(keyId);
  });

  it('pages list-aliases, list-grants and list-resource-tags across --starting-token while items before the token go away', async () => {
    // The CLI resumes from the NextMarker it got; deleting items already listed must not make it skip others.
    const kms = server.client();
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const aliasNames = ['a', 'b', 'c', 'd', 'e'].map((suffix) => `alias/cli-paging-${suffix}`);
    for (const AliasName of aliasNames) await kms.send(new CreateAliasCommand({ AliasName, TargetKeyId: keyId }));
    const grantIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      grantIds.push((await kms.send(new CreateGrantCommand({
        KeyId: keyId, GranteePrincipal: `arn:aws:iam::111122223333:user/cli-paging-${i}`, Operations: ['Decrypt'],
      }))).GrantId!);
    }
    const pageArgs = ['--key-id', keyId, '--page-size', '2', '--max-items', '2'];

    const firstAliases = await aws('list-aliases', ...pageArgs);
    const listedAliases = firstAliases.Aliases.map((alias: { AliasName: string }) => alias.AliasName) as string[];
    expect(listedAliases).toEqual(aliasNames.slice(0, 2));
    for (const AliasName of listedAliases) await kms.send(new DeleteAliasCommand({ AliasName }));
    const restAliases = await aws('list-aliases', ...pageArgs.slice(0, 4), '--starting-token', firstAliases.NextToken);
    expect(restAliases.Aliases.map((alias: { AliasName: string }) => alias.AliasName)).toEqual(aliasNames.slice(2));

    const firstGrants = await aws('list-grants', ...pageArgs);
    const listedGrants = firstGrants.Grants.map((grant: { GrantId: string }) => grant.GrantId) as string[];
    expect(listedGrants).toHaveLength(2);
    for (const GrantId of listedGrants) await kms.send(new RevokeGrantCommand({ KeyId: keyId, GrantId }));
    const restGrants = await aws('list-grants', ...pageArgs.slice(0, 4), '--starting-token', firstGrants.NextToken);
    expect(restGrants.Grants.map((grant: { GrantId: string }) => grant.GrantId).sort())
      .toEqual(grantIds.filter((id) => !listedGrants.includes(id)).sort());

    const tagKeys = ['t1', 't2', 't3', 't4', 't5'];
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: tagKeys.map((TagKey) => ({ TagKey, TagValue: 'v' })) }));
    const firstTags = await aws('list-resource-tags', ...pageArgs);
    const listedTags = firstTags.Tags.map((tag: { TagKey: string }) => tag.TagKey) as string[];
    expect(listedTags).toEqual(tagKeys.slice(0, 2));
    await kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: listedTags }));
    const restTags = await aws('list-resource-tags', ...pageArgs.slice(0, 4), '--starting-token', firstTags.NextToken);
    expect(restTags.Tags.map((tag: { TagKey: string }) => tag.TagKey)).toEqual(tagKeys.slice(2));
  });

  it('surfaces AWS errors by __type', async () => {
    await expect(aws('describe-key', '--key-id', 'alias/does-not-exist')).rejects.toThrow(/NotFoundException/);
  });

  it('an alias name without its alias/ prefix: exit 254 and one line saying the prefix is missing, for each alias command', async () => {
    const keyId = (await aws('create-key')).KeyMetadata.KeyId as string;
    for (const [command, ...args] of [['create-alias', '--target-key-id', keyId], ['update-alias', '--target-key-id', keyId], ['delete-alias']] as const) {
      const refusal = await aws(command, '--alias-name', 'prod', ...args).then(() => undefined, (error: { code: number; stderr: string }) => error);
      const operation = command.split('-').map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
      expect(refusal?.code).toBe(254);
      expect(refusal?.stderr.trim()).toBe(
        `An error occurred (ValidationException) when calling the ${operation} operation: Alias must start with the prefix "alias/".`);
    }
  });
});
