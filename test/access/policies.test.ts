// Issue 4 end to end, policies: identities from KMS_IDENTITIES, key policies (default, custom, malformed,
// lockout), and the evaluation of every decision path and condition key through the real AWS SDK against one
// real server. Each identity's role is described in support.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, DeleteAliasCommand, DescribeKeyCommand, DisableKeyCommand, EncryptCommand,
  GenerateDataKeyCommand, GenerateDataKeyPairCommand, GenerateDataKeyWithoutPlaintextCommand, GenerateMacCommand,
  GetKeyPolicyCommand, KMSClient, ListAliasesCommand, ListGrantsCommand, ListKeyPoliciesCommand, ListKeysCommand,
  ListResourceTagsCommand, PutKeyPolicyCommand, ReEncryptCommand, ScheduleKeyDeletionCommand, SignCommand,
  TagResourceCommand, UpdateAliasCommand, DescribeKeyCommandOutput,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import {
  ACCOUNT, CIPHERTEXT_KEY, accessDenied, accountAdmin, allow, arnOf, createKeyAs, credentialsOf, deny, failure, keyPolicy,
  OTHER_ACCOUNT, REGION, ROOT_ARN, withAccessServer, userArn, type AccessServer,
} from './support.js';

let access: AccessServer;
let root: KMSClient;

withAccessServer((server) => { access = server; root = server.as('root'); });

const plaintext = Buffer.from('policy test plaintext');
const encrypt = (client: KMSClient, KeyId: string, EncryptionContext?: Record<string, string>, extra: object = {}) =>
  client.send(new EncryptCommand({ KeyId, Plaintext: plaintext, EncryptionContext, ...extra }));

/** A key whose policy keeps the account in charge and adds `statements`. */
const keyWith = (statements: object[], extra: object = {}) =>
  createKeyAs(root, { Policy: keyPolicy(accountAdmin, ...statements), ...extra });

describe('identities', () => {
  it('authenticates every principal of the identities file and rejects unknown or wrongly signed callers', async () => {
    const { keyId } = await createKeyAs(root);
    await access.as('admin').send(new DescribeKeyCommand({ KeyId: keyId }));
    const unknown = access.server.client({ credentials: { accessKeyId: 'AKIANOBODYXXXXXXXXXX', secretAccessKey: 'x'.repeat(40) } });
    expect(await failure(unknown.send(new ListKeysCommand({})))).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
    const forged = access.server.client({ credentials: { ...credentialsOf('admin'), secretAccessKey: 'not-the-secret-of-admin-000' } });
    expect(await failure(forged.send(new ListKeysCommand({})))).toMatchObject({ name: 'InvalidSignatureException' });
  });

  it('refuses to start with a bad identities file, naming KMS_IDENTITIES in one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-engine-bad-identities-'));
    try {
      const file = join(dir, 'identities.json');
      writeFileSync(file, JSON.stringify({ identities: [{ accessKeyId: 'AKIABADBADBADBAD0001', secretAccessKey: 'secret-secret-secret', arn: 'not-an-arn' }] }));
      const run = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'kms-engine.js'), 'serve'], {
        env: { ...process.env, PORT: '0', KMS_DATA_DIR: dir, KMS_IDENTITIES: file }, encoding: 'utf8', timeout: 30_000,
      });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain('KMS_IDENTITIES');
      expect(run.stderr).not.toContain('secret-secret-secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('key policies', () => {
  it('CreateKey without Policy gets the default policy, which delegates to the account', async () => {
    const { keyId, arn } = await createKeyAs(root);
    const { Policy, PolicyName } = await root.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }));
    expect(PolicyName).toBe('default');
    expect(JSON.parse(Policy!)).toEqual({
      Version: '2012-10-17', Id: 'key-default-1',
      Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: ROOT_ARN }, Action: 'kms:*', Resource: '*' }],
    });
    expect((await root.send(new ListKeyPoliciesCommand({ KeyId: keyId }))).PolicyNames).toEqual(['default']);
    // Trusting the account: an identity policy is enough, and necessary.
    await encrypt(access.as('admin'), keyId);
    expect(await failure(encrypt(access.as('bob'), keyId))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));
    // Another account's principal gets nothing from our account's trust.
    expect(await failure(encrypt(access.as('eve'), arn))).toEqual(accessDenied('eve', 'kms:Encrypt', arn, 'no-resource'));
    expect(await failure(root.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'other' }))))
      .toMatchObject({ name: 'NotFoundException' });
  });

  it('CreateKey with a Policy stores it verbatim; PutKeyPolicy replaces it and takes effect at once', async () => {
    const policy = keyPolicy(accountAdmin, allow(arnOf('bob'), ['kms:Encrypt', 'kms:DescribeKey']));
    const { keyId, arn } = await createKeyAs(root, { Policy: policy });
    expect((await root.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy).toBe(policy);
    // Named in the key policy: no identity policy needed within the account.
    await encrypt(access.as('bob'), keyId);
    expect(await failure(access.as('bob').send(new DecryptCommand({
      CiphertextBlob: (await encrypt(root, keyId)).CiphertextBlob,
    })))).toEqual(accessDenied('bob', 'kms:Decrypt', CIPHERTEXT_KEY, 'no-identity'));

    const next = keyPolicy(accountAdmin, allow(arnOf('bob'), 'kms:Decrypt'));
    await access.as('admin').send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: next }));
    expect((await root.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy).toBe(next);
    expect(await failure(encrypt(access.as('bob'), keyId))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));
    await access.as('bob').send(new DecryptCommand({ CiphertextBlob: (await encrypt(root, keyId)).CiphertextBlob }));
  });

  it('rejects malformed policies with MalformedPolicyDocumentException', async () => {
    const { keyId } = await createKeyAs(root);
    const malformed = [
      '{not json',
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }), // no Principal
      keyPolicy(accountAdmin, { ...allow(arnOf('bob'), 'kms:*'), Effect: 'Perhaps' }),
      keyPolicy(accountAdmin, allow(userArn('ghost'), 'kms:Encrypt')), // a user this account does not have
      keyPolicy(accountAdmin, allow(arnOf('bob'), 'kms:Encrypt', {
        Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContext:tenant': 'a' } },
      })),
      keyPolicy(accountAdmin, allow(arnOf('bob'), 'kms:Encrypt', { Condition: { StringSometimes: { 'kms:KeySpec': 'x' } } })),
    ];
    for (const Policy of malformed) {
      expect(await failure(root.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy }))))
        .toMatchObject({ name: 'MalformedPolicyDocumentException', status: 400 });
      expect(await failure(root.send(new CreateKeyCommand({ Policy }))))
        .toMatchObject({ name: 'MalformedPolicyDocumentException' });
    }
    // Over the 32 KB key policy quota: LimitExceededException.
    const huge = keyPolicy(accountAdmin, { ...allow(arnOf('bob'), 'kms:Encrypt'), Sid: 'x'.repeat(33_000) });
    expect(await failure(root.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: huge })))).toMatchObject({ name: 'LimitExceededException' });
    // None of them was stored.
    expect(JSON.parse((await root.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy!).Id).toBe('key-default-1');
  });

  it('applies the lockout safety check unless BypassPolicyLockoutSafetyCheck is set', async () => {
    const bobOnly = keyPolicy(allow(arnOf('bob'), 'kms:*'));
    const lockout = {
      name: 'MalformedPolicyDocumentException',
      message: 'The new key policy will not allow you to update the key policy in the future.',
    };
    expect(await failure(root.send(new CreateKeyCommand({ Policy: bobOnly })))).toMatchObject(lockout);
    const { keyId } = await createKeyAs(root);
    expect(await failure(root.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: bobOnly })))).toMatchObject(lockout);
    // Keeping PutKeyPolicy for the caller passes; so does a key ARN-specific Resource.
    await root.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: keyPolicy(allow(ROOT_ARN, 'kms:PutKeyPolicy'), allow(arnOf('bob'), 'kms:*')) }));

    const { keyId: lockedId, arn: lockedArn } = await createKeyAs(root, { Policy: bobOnly, BypassPolicyLockoutSafetyCheck: true });
    // The root principal is bound by the key policy too: once bypassed, only bob manages this key.
    expect(await failure(root.send(new DescribeKeyCommand({ KeyId: lockedId }))))
      .toEqual(accessDenied('root', 'kms:DescribeKey', lockedArn, 'no-resource'));
    // bob's own check: a policy without bob would lock bob out (bob has no IAM policies); one keeping bob passes.
    expect(await failure(access.as('bob').send(new PutKeyPolicyCommand({ KeyId: lockedId, Policy: keyPolicy(accountAdmin) }))))
      .toMatchObject(lockout);
    await access.as('bob').send(new PutKeyPolicyCommand({ KeyId: lockedId, Policy: keyPolicy(accountAdmin, allow(arnOf('bob'), 'kms:PutKeyPolicy')) }));
    await root.send(new DescribeKeyCommand({ KeyId: lockedId }));
  });
});

describe('decisions', () => {
  it('explicit deny in the key policy wins over every allow', async () => {
    const { keyId, arn } = await keyWith([allow(arnOf('bob'), 'kms:*'), deny([arnOf('bob'), arnOf('admin')], 'kms:Decrypt')]);
    const { CiphertextBlob } = await encrypt(access.as('bob'), keyId);
    expect(await failure(access.as('bob').send(new DecryptCommand({ CiphertextBlob }))))
      .toEqual(accessDenied('bob', 'kms:Decrypt', CIPHERTEXT_KEY, 'deny-resource'));
    // admin is allowed by account trust + IAM, and still denied.
    expect(await failure(access.as('admin').send(new DecryptCommand({ CiphertextBlob }))))
      .toEqual(accessDenied('admin', 'kms:Decrypt', CIPHERTEXT_KEY, 'deny-resource'));
    await root.send(new DecryptCommand({ CiphertextBlob }));
  });

  it('explicit deny in an identity policy wins over a key policy that names the caller', async () => {
    const { keyId, arn } = await keyWith([allow(arnOf('carol'), 'kms:*')]);
    const { CiphertextBlob } = await encrypt(access.as('carol'), keyId);
    expect(await failure(access.as('carol').send(new DecryptCommand({ CiphertextBlob }))))
      .toEqual(accessDenied('carol', 'kms:Decrypt', CIPHERTEXT_KEY, 'deny-identity'));
  });

  it('keyless operations (CreateKey, ListKeys) are decided by identity policies alone', async () => {
    expect(await failure(access.as('bob').send(new ListKeysCommand({}))))
      .toEqual(accessDenied('bob', 'kms:ListKeys', '*', 'no-identity'));
    expect(await failure(access.as('bob').send(new CreateKeyCommand({ Policy: keyPolicy(accountAdmin) }))))
      .toEqual(accessDenied('bob', 'kms:CreateKey', '*', 'no-identity'));
    await access.as('admin').send(new ListKeysCommand({}));
  });

  it('Resource in identity policies: rights on other Regions\' keys do not reach this one', async () => {
    const { keyId, arn } = await createKeyAs(root);
    expect(await failure(encrypt(access.as('elsewhere'), keyId))).toEqual(accessDenied('elsewhere', 'kms:Encrypt', arn, 'no-identity'));
    // A key policy Resource naming another key does not apply either.
    const { keyId: otherId, arn: otherArn } = await keyWith([
      { ...allow(arnOf('bob'), 'kms:Encrypt'), Resource: `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000` },
      { ...allow(arnOf('bob'), 'kms:DescribeKey'), Resource: `arn:aws:kms:${REGION}:${ACCOUNT}:key/*` },
    ]);
    expect(await failure(encrypt(access.as('bob'), otherId))).toEqual(accessDenied('bob', 'kms:Encrypt', otherArn, 'no-identity'));
    await access.as('bob').send(new DescribeKeyCommand({ KeyId: otherId }));
  });

  it('Action wildcards kms:GenerateDataKey* and kms:ReEncrypt*, and NotAction', async () => {
    const { keyId, arn } = await createKeyAs(root);
    const wild = access.as('wild');
    await wild.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    await wild.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, NumberOfBytes: 16 }));
    await wild.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' }));
    const { CiphertextBlob } = await encrypt(wild, keyId);
    await wild.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: keyId }));
    expect(await failure(wild.send(new DecryptCommand({ CiphertextBlob })))).toEqual(accessDenied('wild', 'kms:Decrypt', CIPHERTEXT_KEY, 'no-identity'));
    // NotAction: creator may do anything to this Region's keys except the listed actions.
    const creator = access.as('creator');
    await creator.send(new DecryptCommand({ CiphertextBlob }));
    await creator.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'by', TagValue: 'creator' }] }));
    expect(await failure(creator.send(new DisableKeyCommand({ KeyId: keyId })))).toEqual(accessDenied('creator', 'kms:DisableKey', arn, 'no-identity'));
    expect((await root.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('Enabled');
  });

  it('ReEncrypt needs kms:ReEncryptFrom on the source and kms:ReEncryptTo on the destination', async () => {
    const source = await keyWith([allow(arnOf('bob'), ['kms:Encrypt', 'kms:ReEncryptFrom'])]);
    const destination = await keyWith([allow(arnOf('bob'), 'kms:ReEncryptTo')]);
    const { CiphertextBlob } = await encrypt(access.as('bob'), source.keyId);
    const reEncrypted = await access.as('bob').send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: destination.keyId }));
    expect(reEncrypted.KeyId).toBe(destination.arn);
    expect(reEncrypted.SourceKeyId).toBe(source.arn);
    // Back the other way: the destination grants no ReEncryptFrom, the source no ReEncryptTo.
    expect(await failure(access.as('bob').send(new ReEncryptCommand({ CiphertextBlob: reEncrypted.CiphertextBlob, DestinationKeyId: source.keyId }))))
      .toEqual(accessDenied('bob', 'kms:ReEncryptFrom', CIPHERTEXT_KEY, 'no-identity'));
    const onlyFrom = await keyWith([allow(arnOf('bob'), 'kms:ReEncryptFrom')]);
    expect(await failure(access.as('bob').send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: onlyFrom.keyId }))))
      .toEqual(accessDenied('bob', 'kms:ReEncryptTo', onlyFrom.arn, 'no-identity'));
  });

  it('a denied call changes nothing', async () => {
    const { keyId, arn } = await keyWith([allow(arnOf('bob'), ['kms:DescribeKey', 'kms:ListAliases', 'kms:ListGrants', 'kms:ListResourceTags'])]);
    const before = await root.send(new DescribeKeyCommand({ KeyId: keyId }));
    const policyBefore = (await root.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy;
    const bob = access.as('bob');
    const attempts: Array<[string, Promise<unknown>]> = [
      ['kms:PutKeyPolicy', bob.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: keyPolicy(allow(arnOf('bob'), 'kms:*')), BypassPolicyLockoutSafetyCheck: true }))],
      ['kms:ScheduleKeyDeletion', bob.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }))],
      ['kms:DisableKey', bob.send(new DisableKeyCommand({ KeyId: keyId }))],
      ['kms:CreateAlias', bob.send(new CreateAliasCommand({ AliasName: 'alias/denied-bob', TargetKeyId: keyId }))],
      ['kms:TagResource', bob.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] }))],
      ['kms:CreateGrant', bob.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: arnOf('bob'), Operations: ['Decrypt'] }))],
    ];
    // Every answer's handler is attached now: the six answers can arrive together (one event-loop turn on the
    // server), and one awaited later must not count as an unhandled rejection meanwhile.
    const outcomes = attempts.map(([action, attempt]) => [action, failure(attempt)] as const);
    for (const [action, outcome] of outcomes) {
      expect(await outcome).toEqual(accessDenied('bob', action, arn, 'no-identity'));
    }
    const after: DescribeKeyCommandOutput = await bob.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(after.KeyMetadata).toEqual(before.KeyMetadata);
    expect((await root.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy).toBe(policyBefore);
    // ListAliases is IAM-only (resource '*'), which bob has none of: root looks.
    expect((await root.send(new ListAliasesCommand({ KeyId: keyId }))).Aliases).toEqual([]);
    expect((await bob.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toEqual([]);
    expect((await bob.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);
  });

  it('a cross-account principal needs the key policy to name it and its own IAM policy to allow', async () => {
    const eveArn = arnOf('eve');
    const { arn } = await keyWith([allow(eveArn, 'kms:Encrypt'), allow(`arn:aws:iam::${OTHER_ACCOUNT}:root`, 'kms:DescribeKey')]);
    await encrypt(access.as('eve'), arn);
    await access.as('eve').send(new DescribeKeyCommand({ KeyId: arn }));
    expect(await failure(access.as('eve').send(new GenerateDataKeyCommand({ KeyId: arn, NumberOfBytes: 32 }))))
      .toEqual(accessDenied('eve', 'kms:GenerateDataKey', arn, 'no-resource'));
  });

  it('a cross-account principal names a key here only by ARN, and only in operations AWS allows across accounts', async () => {
    const { keyId, arn } = await keyWith([allow(arnOf('eve'), 'kms:*')]);
    const aliasName = `alias/shared-${keyId.slice(0, 8)}`;
    await root.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: keyId }));
    const eve = access.as('eve');
    const notFound = (message: string) => ({ name: 'NotFoundException', status: 404, message });
    // A key id or alias name means one in eve's own account, which has none here.
    expect(await failure(encrypt(eve, keyId))).toEqual(notFound(`Key 'arn:aws:kms:${REGION}:${OTHER_ACCOUNT}:key/${keyId}' does not exist`));
    expect(await failure(encrypt(eve, aliasName))).toEqual(notFound(`Alias 'arn:aws:kms:${REGION}:${OTHER_ACCOUNT}:${aliasName}' is not found.`));
    expect(await failure(eve.send(new DescribeKeyCommand({ KeyId: keyId })))).toMatchObject({ name: 'NotFoundException' });
    // By key ARN or alias ARN it is this account's key.
    const { CiphertextBlob } = await encrypt(eve, `arn:aws:kms:${REGION}:${ACCOUNT}:${aliasName}`);
    expect((await eve.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata?.KeyId).toBe(keyId);
    // A symmetric ciphertext names its key itself: Decrypt needs no KeyId across accounts either.
    expect(Buffer.from((await eve.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!)).toEqual(plaintext);
    // Management operations take keys of the caller's own account only, whatever the key policy allows.
    expect(await failure(eve.send(new DisableKeyCommand({ KeyId: arn })))).toEqual(notFound(`Key '${arn}' does not exist`));
    expect(await failure(eve.send(new TagResourceCommand({ KeyId: arn, Tags: [{ TagKey: 'k', TagValue: 'v' }] }))))
      .toMatchObject({ name: 'NotFoundException' });
    expect((await root.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe('Enabled');
    // Alias names are the caller's account's too: eve has none here to list, move or delete.
    expect(await failure(eve.send(new DeleteAliasCommand({ AliasName: aliasName }))))
      .toEqual(notFound(`Alias 'arn:aws:kms:${REGION}:${OTHER_ACCOUNT}:${aliasName}' is not found.`));
    expect(await failure(eve.send(new UpdateAliasCommand({ AliasName: aliasName, TargetKeyId: arn })))).toMatchObject({ name: 'NotFoundException' });
    expect((await eve.send(new ListAliasesCommand({}))).Aliases).toEqual([]);
    expect((await root.send(new ListAliasesCommand({ KeyId: keyId }))).Aliases?.map((alias) => alias.AliasName)).toEqual([aliasName]);
    // Eve's account lists no keys here, and cannot make any: the engine holds one account's keys.
    expect((await eve.send(new ListKeysCommand({}))).Keys).toEqual([]);
    expect(await failure(eve.send(new CreateKeyCommand({})))).toMatchObject({ name: 'UnsupportedOperationException', status: 400 });
  });

  it('a Decrypt or ReEncrypt refused on the key its ciphertext names does not name that key, in the answer or the audit record', async () => {
    // The default policy trusts only this account: eve, holding a ciphertext, must not learn the key's ARN or account.
    const { keyId, arn } = await createKeyAs(root);
    const { CiphertextBlob } = await encrypt(root, keyId);
    const eve = access.as('eve');
    let requestId: string | undefined;
    try {
      await eve.send(new DecryptCommand({ CiphertextBlob }));
    } catch (error) {
      requestId = (error as { $metadata: { requestId?: string } }).$metadata.requestId;
    }
    const refused = accessDenied('eve', 'kms:Decrypt', CIPHERTEXT_KEY, 'no-resource');
    expect(await failure(eve.send(new DecryptCommand({ CiphertextBlob })))).toEqual(refused);
    expect(refused.message).not.toContain(keyId);
    expect(await failure(eve.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: arn }))))
      .toEqual(accessDenied('eve', 'kms:ReEncryptFrom', CIPHERTEXT_KEY, 'no-resource'));
    // A caller that names the key knows it already: the refusal names it.
    expect(await failure(eve.send(new DecryptCommand({ CiphertextBlob, KeyId: arn }))))
      .toEqual(accessDenied('eve', 'kms:Decrypt', arn, 'no-resource'));
    const record = readFileSync(join(access.server.dataDir, 'audit.jsonl'), 'utf8').trim().split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.requestID === requestId);
    expect(record).toMatchObject({ eventName: 'Decrypt', errorCode: 'AccessDeniedException', errorMessage: refused.message });
  });
});

describe('condition keys', () => {
  it('kms:EncryptionContext:<key> (context key name case-insensitive, value exact)', async () => {
    const { keyId, arn } = await keyWith([allow(arnOf('bob'), 'kms:Encrypt', {
      Condition: { StringEquals: { 'kms:EncryptionContext:Tenant': 'blue' } },
    })]);
    const bob = access.as('bob');
    await encrypt(bob, keyId, { tenant: 'blue' });
    await encrypt(bob, keyId, { TENANT: 'blue', extra: 'x' });
    const denied = accessDenied('bob', 'kms:Encrypt', arn, 'no-identity');
    expect(await failure(encrypt(bob, keyId, { tenant: 'Blue' }))).toEqual(denied);
    expect(await failure(encrypt(bob, keyId, { tenant: 'red' }))).toEqual(denied);
    expect(await failure(encrypt(bob, keyId))).toEqual(denied);
  });

  it('kms:EncryptionContextKeys with ForAllValues, ForAnyValue and Null', async () => {
    const { keyId, arn } = await keyWith([
      allow(arnOf('bob'), 'kms:Encrypt', { Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'purpose'] },
        Null: { 'kms:EncryptionContextKeys': 'false' } } }),
      allow(arnOf('bob'), 'kms:GenerateDataKey', { Condition: { 'ForAnyValue:StringLike': { 'kms:EncryptionContextKeys': 'app-*' } } }),
    ]);
    const bob = access.as('bob');
    await encrypt(bob, keyId, { tenant: 'a', purpose: 'b' });
    await encrypt(bob, keyId, { purpose: 'b' });
    expect(await failure(encrypt(bob, keyId, { tenant: 'a', other: 'c' }))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));
    expect(await failure(encrypt(bob, keyId))).toEqual(accessDenied('bob', 'kms:Encrypt', arn, 'no-identity'));
    await bob.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32, EncryptionContext: { 'app-id': '1', other: '2' } }));
    expect(await failure(bob.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32, EncryptionContext: { other: '2' } }))))
      .toEqual(accessDenied('bob', 'kms:GenerateDataKey', arn, 'no-identity'));
  });

  it('kms:DataKeyPairSpec', async () => {
    const { keyId, arn } = await keyWith([allow(arnOf('bob'), 'kms:GenerateDataKeyPair*', {
      Condition: { StringEquals: { 'kms:DataKeyPairSpec': 'ECC_NIST_P256' } },
    })]);
    const pair = await access.as('bob').send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' }));
    expect(pair.KeyPairSpec).toBe('ECC_NIST_P256');
    expect(await failure(access.as('bob').send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P384' }))))
      .toEqual(accessDenied('bob', 'kms:GenerateDataKeyPair', arn, 'no-identity'));
  });

  it('kms:EncryptionAlgorithm (an omitted algorithm counts as its default)', async () => {
    const symmetric = await keyWith([allow(arnOf('bob'), 'kms:Encrypt', {
      Condition: { StringEquals: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } },
    })]);
    await encrypt(access.as('bob'), symmetric.keyId);
    const rsa = await keyWith([allow(arnOf('bob'), 'kms:Encrypt', {
      Condition: { StringEquals: { 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_256' } },
    })], { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    await encrypt(access.as('bob'), rsa.keyId, undefined, { EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    expect(await failure(encrypt(access.as('bob'), rsa.keyId, undefined, { EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' })))
      .toEqual(accessDenied('bob', 'kms:Encrypt', rsa.arn, 'no-identity'));
  });

  it('kms:SigningAlgorithm and kms:MessageType', async () => {
    const { keyId, arn } = await keyWith([allow(arnOf('bob'), 'kms:Sign', {
      Condition: { StringEquals: { 'kms:SigningAlgorithm': 'RSASSA_PSS_SHA_256', 'kms:MessageType': 'RAW' } },
    })], { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    const bob = access.as('bob');
    const message = Buffer.from('sign me');
    await bob.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'RSASSA_PSS_SHA_256' }));
    const denied = accessDenied('bob', 'kms:Sign', arn, 'no-identity');
    expect(await failure(bob.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' })))).toEqual(denied);
    const digest = Buffer.alloc(32, 7);
    expect(await failure(bob.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).toEqual(denied);
  });

  it('kms:MacAlgorithm', async () => {
    const hmac = { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' } as const;
    const matching = await keyWith([allow(arnOf('bob'), 'kms:GenerateMac', { Condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } } })], hmac);
    const other = await keyWith([allow(arnOf('bob'), 'kms:GenerateMac', { Condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_512' } } })], hmac);
    const input = { Message: Buffer.from('mac me'), MacAlgorithm: 'HMAC_SHA_256' } as const;
    await access.as('bob').send(new GenerateMacCommand({ KeyId: matching.keyId, ...input }));
    expect(await failure(access.as('bob').send(new GenerateMacCommand({ KeyId: other.keyId, ...input }))))
      .toEqual(accessDenied('bob', 'kms:GenerateMac', other.arn, 'no-identity'));
  });

  it('kms:KeySpec, kms:KeyUsage and kms:KeyOrigin on CreateKey (defaults count) and on key operations', async () => {
    const creator = access.as('creator');
    await createKeyAs(creator);
    await createKeyAs(creator, { KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Origin: 'AWS_KMS' });
    for (const input of [{ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }, { Origin: 'EXTERNAL' }] as const) {
      expect(await failure(createKeyAs(creator, input))).toEqual(accessDenied('creator', 'kms:CreateKey', '*', 'no-identity'));
    }
    const onKey = (condition: object) => [allow(arnOf('bob'), 'kms:DescribeKey', { Condition: { StringEquals: condition } })];
    const hmac = await keyWith(onKey({ 'kms:KeySpec': 'HMAC_256', 'kms:KeyUsage': 'GENERATE_VERIFY_MAC' }), { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    await access.as('bob').send(new DescribeKeyCommand({ KeyId: hmac.keyId }));
    const symmetric = await keyWith(onKey({ 'kms:KeySpec': 'HMAC_256' }));
    expect(await failure(access.as('bob').send(new DescribeKeyCommand({ KeyId: symmetric.keyId }))))
      .toEqual(accessDenied('bob', 'kms:DescribeKey', symmetric.arn, 'no-identity'));
    const external = await keyWith(onKey({ 'kms:KeyOrigin': 'EXTERNAL' }), { Origin: 'EXTERNAL' });
    await access.as('bob').send(new DescribeKeyCommand({ KeyId: external.keyId }));
    const native = await keyWith(onKey({ 'kms:KeyOrigin': 'EXTERNAL' }));
    expect(await failure(access.as('bob').send(new DescribeKeyCommand({ KeyId: native.keyId }))))
      .toEqual(accessDenied('bob', 'kms:DescribeKey', native.arn, 'no-identity'));
  });

  it('kms:CallerAccount', async () => {
    const { keyId, arn } = await keyWith([{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:Encrypt', Resource: '*',
      Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } } }]);
    await encrypt(access.as('bob'), keyId);
    // eve's own IAM allows everything, but the key policy only opens the key to callers of this account.
    expect(await failure(encrypt(access.as('eve'), arn))).toEqual(accessDenied('eve', 'kms:Encrypt', arn, 'no-resource'));
  });

  it('kms:RequestAlias', async () => {
    const { keyId, arn } = await keyWith([allow(arnOf('bob'), 'kms:Encrypt', { Condition: { StringEquals: { 'kms:RequestAlias': 'alias/bob-app' } } })]);
    await root.send(new CreateAliasCommand({ AliasName: 'alias/bob-app', TargetKeyId: keyId }));
    await root.send(new CreateAliasCommand({ AliasName: 'alias/bob-other', TargetKeyId: keyId }));
    const bob = access.as('bob');
    expect((await encrypt(bob, 'alias/bob-app')).KeyId).toBe(arn);
    await encrypt(bob, `arn:aws:kms:${REGION}:${ACCOUNT}:alias/bob-app`);
    const denied = accessDenied('bob', 'kms:Encrypt', arn, 'no-identity');
    expect(await failure(encrypt(bob, keyId))).toEqual(denied);
    expect(await failure(encrypt(bob, 'alias/bob-other'))).toEqual(denied);
  });

  it('kms:GrantOperations', async () => {
    const { keyId, arn } = await keyWith([allow(arnOf('bob'), 'kms:CreateGrant', {
      Condition: { 'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Encrypt', 'Decrypt'] } },
    })]);
    const bob = access.as('bob');
    const grant = await bob.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: arnOf('app'), Operations: ['Decrypt'] }));
    expect(grant.GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect(await failure(bob.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: arnOf('app'), Operations: ['Decrypt', 'ReEncryptFrom'] }))))
      .toEqual(accessDenied('bob', 'kms:CreateGrant', arn, 'no-identity'));
  });

  it('kms:ReEncryptOnSameKey', async () => {
    const sameKeyOnly = [allow(arnOf('bob'), 'kms:Encrypt'), allow(arnOf('bob'), 'kms:ReEncrypt*', { Condition: { Bool: { 'kms:ReEncryptOnSameKey': 'true' } } })];
    const first = await keyWith(sameKeyOnly);
    const second = await keyWith(sameKeyOnly);
    const bob = access.as('bob');
    const { CiphertextBlob } = await encrypt(bob, first.keyId);
    const same = await bob.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: first.keyId }));
    expect(same.KeyId).toBe(first.arn);
    expect(await failure(bob.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: second.keyId }))))
      .toEqual(accessDenied('bob', 'kms:ReEncryptFrom', CIPHERTEXT_KEY, 'no-identity'));
  });

  it('aws:PrincipalArn (a session is known by its role ARN)', async () => {
    // No account trust (bypassing the lockout check): only the principals the condition names get in.
    const { keyId, arn } = await createKeyAs(root, { BypassPolicyLockoutSafetyCheck: true, Policy: keyPolicy(
      { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:Encrypt', Resource: '*',
        Condition: { ArnLike: { 'aws:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:user/b*`, `arn:aws:iam::${ACCOUNT}:role/app`] } } },
    ) });
    await encrypt(access.as('bob'), keyId);
    await encrypt(access.as('app'), keyId);
    // wild's IAM allows Encrypt, but IAM counts only where the key policy trusts the account.
    expect(await failure(encrypt(access.as('wild'), keyId))).toEqual(accessDenied('wild', 'kms:Encrypt', arn, 'no-resource'));
  });

  it('aws:PrincipalType: Account for the root, User for an IAM user, AssumedRole for a role session', async () => {
    const { keyId, arn } = await keyWith([
      deny('*', 'kms:Encrypt', { Condition: { StringEquals: { 'aws:PrincipalType': 'Account' } } }),
      allow([arnOf('bob'), arnOf('app')], 'kms:Encrypt', { Condition: { StringEquals: { 'aws:PrincipalType': ['User', 'AssumedRole'] } } }),
    ]);
    expect(await failure(encrypt(root, keyId))).toEqual(accessDenied('root', 'kms:Encrypt', arn, 'deny-resource'));
    await encrypt(access.as('bob'), keyId);
    await encrypt(access.as('app'), keyId);
  });

  it('aws:RequestedRegion is the engine\'s Region and aws:PrincipalIsAWSService false, on every request', async () => {
    // The usual guardrails: refuse requests to other Regions, and callers that are not AWS services only where meant.
    const { keyId, arn } = await keyWith([
      deny('*', 'kms:*', { Condition: { StringNotEquals: { 'aws:RequestedRegion': [REGION] } } }),
      deny('*', 'kms:DescribeKey', { Condition: { StringEquals: { 'aws:RequestedRegion': REGION } } }),
      allow(arnOf('bob'), 'kms:Encrypt', { Condition: { Bool: { 'aws:PrincipalIsAWSService': 'false' } } }),
    ]);
    await encrypt(root, keyId);
    await encrypt(access.as('bob'), keyId);
    expect(await failure(root.send(new DescribeKeyCommand({ KeyId: keyId })))).toEqual(accessDenied('root', 'kms:DescribeKey', arn, 'deny-resource'));
    // The lockout check sees them too: this policy still lets root update it.
    await root.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: keyPolicy(accountAdmin,
      deny('*', 'kms:PutKeyPolicy', { Condition: { StringNotEquals: { 'aws:RequestedRegion': REGION } } })) }));
  });

  it('aws:ViaAWSService is false on every request: the data-perimeter deny of direct calls from outside a network holds', async () => {
    const outsideNetwork = { NotIpAddress: { 'aws:SourceIp': '203.0.113.0/24' }, Bool: { 'aws:ViaAWSService': 'false' } };
    const { keyId, arn } = await keyWith([deny('*', 'kms:Encrypt', { Condition: outsideNetwork }),
      allow(arnOf('bob'), 'kms:DescribeKey', { Condition: { Bool: { 'aws:ViaAWSService': 'false' } } })]);
    expect(await failure(encrypt(access.as('admin'), keyId))).toEqual(accessDenied('admin', 'kms:Encrypt', arn, 'deny-resource'));
    await access.as('bob').send(new DescribeKeyCommand({ KeyId: keyId }));
    // The lockout check sees it too: a policy denying every direct call from here would lock the caller out.
    expect(await failure(createKeyAs(root, { Policy: keyPolicy(accountAdmin, deny('*', 'kms:*', { Condition: outsideNetwork })) })))
      .toMatchObject({ name: 'MalformedPolicyDocumentException', message: 'The new key policy will not allow you to update the key policy in the future.' });
  });

  it('aws:MultiFactorAuthPresent is false for a role session (temporary credentials) and absent for long-term keys', async () => {
    const withoutMfa = (condition: string) => deny('*', 'kms:Encrypt', { Condition: { [condition]: { 'aws:MultiFactorAuthPresent': 'false' } } });
    const { keyId, arn } = await keyWith([allow([arnOf('app'), arnOf('bob')], 'kms:Encrypt'), withoutMfa('Bool')]);
    expect(await failure(encrypt(access.as('app'), keyId))).toEqual(accessDenied('app', 'kms:Encrypt', arn, 'deny-resource'));
    await encrypt(access.as('bob'), keyId);
    // BoolIfExists, as IAM advises, denies long-term keys as well.
    const { keyId: strictId, arn: strictArn } = await keyWith([allow([arnOf('app'), arnOf('bob')], 'kms:Encrypt'), withoutMfa('BoolIfExists')]);
    expect(await failure(encrypt(access.as('app'), strictId))).toEqual(accessDenied('app', 'kms:Encrypt', strictArn, 'deny-resource'));
    expect(await failure(encrypt(access.as('bob'), strictId))).toEqual(accessDenied('bob', 'kms:Encrypt', strictArn, 'deny-resource'));
  });

  it('aws:ResourceAccount is the account owning the key, for callers of any account and in the lockout check', async () => {
    const inThisAccount = { StringEquals: { 'aws:ResourceAccount': ACCOUNT } };
    const { keyId, arn } = await keyWith([allow([arnOf('bob'), arnOf('eve')], 'kms:Encrypt', { Condition: inThisAccount }),
      deny('*', 'kms:DescribeKey', { Condition: { StringNotEquals: { 'aws:ResourceAccount': ACCOUNT } } })]);
    await encrypt(access.as('bob'), keyId);
    await encrypt(access.as('eve'), arn);
    await root.send(new DescribeKeyCommand({ KeyId: keyId }));
    // The lockout check imagines the next PutKeyPolicy on this key, of this account.
    await createKeyAs(root, { Policy: keyPolicy({ ...accountAdmin, Condition: inThisAccount }) });
    await root.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: keyPolicy({ ...accountAdmin, Condition: inThisAccount }) }));
  });

  it('aws:SecureTransport is false over plain HTTP: a deny of calls without TLS holds, and the lockout check sees it', async () => {
    const withoutTls = deny('*', 'kms:*', { Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    const { keyId, arn } = await keyWith([deny('*', 'kms:Encrypt', { Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]);
    expect(await failure(encrypt(root, keyId))).toEqual(accessDenied('root', 'kms:Encrypt', arn, 'deny-resource'));
    expect(await failure(createKeyAs(root, { Policy: keyPolicy(accountAdmin, withoutTls) })))
      .toMatchObject({ name: 'MalformedPolicyDocumentException', message: 'The new key policy will not allow you to update the key policy in the future.' });
  });

  it('aws:userid: the account id for the root, the role\'s unique id and the session name for a role session', async () => {
    const { keyId, arn } = await keyWith([
      deny('*', 'kms:Encrypt', { Condition: { StringEquals: { 'aws:userid': ACCOUNT } } }),
      allow(arnOf('app'), 'kms:Encrypt', { Condition: { StringLike: { 'aws:userid': 'AROA*:worker-1' } } }),
      allow(arnOf('bob'), 'kms:Encrypt', { Condition: { StringLike: { 'aws:userid': 'AIDA*' } } }),
    ]);
    expect(await failure(encrypt(root, keyId))).toEqual(accessDenied('root', 'kms:Encrypt', arn, 'deny-resource'));
    await encrypt(access.as('app'), keyId);
    await encrypt(access.as('bob'), keyId);
  });

  it('conditions in identity policies decide per request as well', async () => {
    const { keyId, arn } = await createKeyAs(root);
    const tenant = access.as('tenant');
    await encrypt(tenant, keyId, { tenant: 'green' });
    expect(await failure(encrypt(tenant, keyId, { tenant: 'blue' }))).toEqual(accessDenied('tenant', 'kms:Encrypt', arn, 'no-identity'));
    expect(await failure(encrypt(tenant, keyId))).toEqual(accessDenied('tenant', 'kms:Encrypt', arn, 'no-identity'));
  });
});
