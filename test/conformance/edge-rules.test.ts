// Rules at the edges of the API that a fresh review against kms-api.md found missing: Nitro Enclave recipients,
// dry runs that still open the ciphertext, the default encryption algorithm on RSA keys, grant and alias limits,
// duplicate tag keys, rotation of keys awaiting imported material. The real server, driven by the AWS SDK.
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, DeleteAliasCommand, DescribeKeyCommand, EnableKeyRotationCommand, EncryptCommand,
  GetKeyRotationStatusCommand,
  GenerateDataKeyCommand, GenerateDataKeyPairCommand, GenerateRandomCommand, ListGrantsCommand, ListRetirableGrantsCommand,
  ReEncryptCommand, TagResourceCommand, UpdateAliasCommand, type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { failure } from '../support/sdk-errors.js';
import { serverForFile } from '../support/file-server.js';

const shared = serverForFile();

async function newKey(spec: KeySpec = 'SYMMETRIC_DEFAULT', usage: KeyUsageType = 'ENCRYPT_DECRYPT'): Promise<string> {
  const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: usage }));
  return KeyMetadata!.KeyId!;
}

const recipient = { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' as const, AttestationDocument: Buffer.from('not an attestation') };

describe('Recipient (Nitro Enclave attestation)', () => {
  it('is refused, never ignored: no plaintext goes back to a caller who asked for it sealed', async () => {
    const keyId = await newKey();
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret') }));
    // failure() is attached to every call at once: awaiting them in turn would leave a later call's rejection
    // unhandled while an earlier one is still pending.
    const refusals = await Promise.all([
      shared.kms.send(new DecryptCommand({ CiphertextBlob, Recipient: recipient })),
      shared.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', Recipient: recipient })),
      shared.kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256', Recipient: recipient })),
      shared.kms.send(new GenerateRandomCommand({ NumberOfBytes: 32, Recipient: recipient })),
    ].map(failure));
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ name: 'UnsupportedOperationException', status: 400, message: expect.stringMatching(/Recipient/) });
    }
  });
});

describe('DryRun of Decrypt and ReEncrypt', () => {
  it('opens the ciphertext unless told to ignore it', async () => {
    const source = await newKey();
    const destination = await newKey();
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({
      KeyId: source, Plaintext: Buffer.from('secret'), EncryptionContext: { purpose: 'test' },
    }));
    const tampered = Buffer.from(CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    const context = { purpose: 'test' };
    // A good ciphertext: the dry run would have succeeded.
    expect(await failure(shared.kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context, DryRun: true }))))
      .toMatchObject({ name: 'DryRunOperationException', status: 412 });
    // A tampered one, or the wrong context: the answer the real call would give.
    expect(await failure(shared.kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context, DryRun: true }))))
      .toMatchObject({ name: 'InvalidCiphertextException' });
    expect(await failure(shared.kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { purpose: 'other' }, DryRun: true }))))
      .toMatchObject({ name: 'InvalidCiphertextException' });
    expect(await failure(shared.kms.send(new ReEncryptCommand({
      CiphertextBlob: tampered, SourceEncryptionContext: context, DestinationKeyId: destination, DryRun: true,
    })))).toMatchObject({ name: 'InvalidCiphertextException' });
    // IGNORE_CIPHERTEXT: everything but the ciphertext is checked.
    expect(await failure(shared.kms.send(new DecryptCommand({
      CiphertextBlob: tampered, KeyId: source, EncryptionContext: context, DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'],
    })))).toMatchObject({ name: 'DryRunOperationException' });
  });
});

describe('RSA encryption keys named without an EncryptionAlgorithm', () => {
  it('get the default, SYMMETRIC_DEFAULT, which the key does not support: InvalidKeyUsageException', async () => {
    const rsa = await newKey('RSA_2048', 'ENCRYPT_DECRYPT');
    expect(await failure(shared.kms.send(new EncryptCommand({ KeyId: rsa, Plaintext: Buffer.from('x') }))))
      .toMatchObject({ name: 'InvalidKeyUsageException', status: 400, message: expect.stringMatching(/SYMMETRIC_DEFAULT/) });
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({ KeyId: rsa, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(await failure(shared.kms.send(new DecryptCommand({ KeyId: rsa, CiphertextBlob }))))
      .toMatchObject({ name: 'InvalidKeyUsageException' });
  });
});

describe('GenerateRandom with a custom key store', () => {
  it('answers CustomKeyStoreNotFoundException: there are none', async () => {
    expect(await failure(shared.kms.send(new GenerateRandomCommand({ NumberOfBytes: 16, CustomKeyStoreId: 'cks-1234567890abcdef0' }))))
      .toMatchObject({ name: 'CustomKeyStoreNotFoundException', status: 400 });
  });
});

describe('grants', () => {
  const grantee = 'arn:aws:iam::111122223333:user/app';

  it('CreateGrant needs a grantee', async () => {
    const keyId = await newKey();
    expect(await failure(shared.kms.send(new CreateGrantCommand({ KeyId: keyId, Operations: ['Encrypt'] }))))
      .toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/GranteePrincipal/) });
  });

  it('encryption context constraints hold at most 8 pairs of at most 384 characters', async () => {
    const keyId = await newKey();
    const pairs = (count: number, length = 1) =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v'.repeat(length)]));
    await shared.kms.send(new CreateGrantCommand({
      KeyId: keyId, GranteePrincipal: grantee, Operations: ['Encrypt'], Constraints: { EncryptionContextSubset: pairs(8, 384) },
    }));
    for (const constraints of [{ EncryptionContextSubset: pairs(9) }, { EncryptionContextEquals: pairs(1, 385) }]) {
      expect(await failure(shared.kms.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: grantee, Operations: ['Encrypt'], Constraints: constraints }))))
        .toMatchObject({ name: 'ValidationException' });
    }
  });

  it('a Name returns the same grant only to a retry with identical terms; other terms get a grant of their own', async () => {
    const keyId = await newKey();
    const terms = {
      KeyId: keyId, GranteePrincipal: grantee, Name: 'app-grant', Operations: ['Encrypt', 'Decrypt'] as ('Encrypt' | 'Decrypt')[],
      Constraints: { EncryptionContextSubset: { tenant: 'a', stage: 'prod' } },
    };
    const first = await shared.kms.send(new CreateGrantCommand(terms));
    // The same terms, operations and context pairs in another order: a retry.
    const retry = await shared.kms.send(new CreateGrantCommand({
      ...terms, Operations: ['Decrypt', 'Encrypt'], Constraints: { EncryptionContextSubset: { stage: 'prod', tenant: 'a' } },
    }));
    expect(retry.GrantId).toBe(first.GrantId);
    expect(retry.GrantToken).not.toBe(first.GrantToken); // a new token every call, as AWS documents
    const others = await Promise.all([
      { ...terms, Operations: ['Decrypt' as const] },
      { ...terms, Constraints: { EncryptionContextSubset: { tenant: 'b', stage: 'prod' } } },
      { ...terms, Constraints: undefined },
      { ...terms, RetiringPrincipal: grantee },
      { ...terms, GranteePrincipal: 'arn:aws:iam::111122223333:user/other' },
    ].map(async (input) => (await shared.kms.send(new CreateGrantCommand(input))).GrantId!));
    expect(new Set([first.GrantId, ...others]).size).toBe(6);
    const { Grants } = await shared.kms.send(new ListGrantsCommand({ KeyId: keyId }));
    expect(Grants!.find((grant) => grant.GrantId === others[0])?.Operations).toEqual(['Decrypt']);
  });

  it('ListRetirableGrants needs exactly one retiring principal', async () => {
    expect(await failure(shared.kms.send(new ListRetirableGrantsCommand({})))).toMatchObject({ name: 'ValidationException' });
    expect(await failure(shared.kms.send(new ListRetirableGrantsCommand({ RetiringPrincipal: grantee, RetiringServicePrincipal: 'dynamodb.amazonaws.com' }))))
      .toMatchObject({ name: 'ValidationException' });
    expect((await shared.kms.send(new ListRetirableGrantsCommand({ RetiringServicePrincipal: 'dynamodb.amazonaws.com' }))).Grants).toEqual([]);
  });
});

describe('aliases and tags', () => {
  it('UpdateAlias cannot give a key a 51st alias', async () => {
    const full = await newKey();
    const other = await newKey();
    await Promise.all(Array.from({ length: 50 }, (_, i) => shared.kms.send(new CreateAliasCommand({ AliasName: `alias/full/${i}`, TargetKeyId: full }))));
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/elsewhere', TargetKeyId: other }));
    expect(await failure(shared.kms.send(new UpdateAliasCommand({ AliasName: 'alias/elsewhere', TargetKeyId: full }))))
      .toMatchObject({ name: 'LimitExceededException' });
    // Pointing one of its own aliases at it again is no new alias.
    await shared.kms.send(new UpdateAliasCommand({ AliasName: 'alias/full/0', TargetKeyId: full }));
  });

  it('a tag key given twice in one request is TagException, in TagResource and in CreateKey', async () => {
    const keyId = await newKey();
    const tags = [{ TagKey: 'team', TagValue: 'a' }, { TagKey: 'team', TagValue: 'b' }];
    expect(await failure(shared.kms.send(new TagResourceCommand({ KeyId: keyId, Tags: tags })))).toMatchObject({ name: 'TagException' });
    expect(await failure(shared.kms.send(new CreateKeyCommand({ Tags: tags })))).toMatchObject({ name: 'TagException' });
  });
});

describe('ARNs of another partition', () => {
  it('name no key or alias here: NotFoundException, as for another region or account', async () => {
    const keyId = await newKey();
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/partitioned', TargetKeyId: keyId }));
    const region = 'us-east-1';
    const account = '111122223333';
    // The engine's own ARNs work; the same ARNs in aws-cn or aws-us-gov do not.
    await shared.kms.send(new EncryptCommand({ KeyId: `arn:aws:kms:${region}:${account}:alias/partitioned`, Plaintext: Buffer.from('x') }));
    for (const partition of ['aws-cn', 'aws-us-gov']) {
      expect(await failure(shared.kms.send(new DescribeKeyCommand({ KeyId: `arn:${partition}:kms:${region}:${account}:key/${keyId}` }))))
        .toMatchObject({ name: 'NotFoundException', status: 404 });
      expect(await failure(shared.kms.send(new EncryptCommand({ KeyId: `arn:${partition}:kms:${region}:${account}:alias/partitioned`, Plaintext: Buffer.from('x') }))))
        .toMatchObject({ name: 'NotFoundException', status: 404 });
    }
  });
});

describe('rotation status', () => {
  it('asymmetric, HMAC and key-agreement keys answer false (they never rotate), as a symmetric key does before EnableKeyRotation', async () => {
    const symmetric = await newKey();
    expect(await shared.kms.send(new GetKeyRotationStatusCommand({ KeyId: symmetric }))).toMatchObject({ KeyRotationEnabled: false });
    for (const [spec, usage] of [['RSA_2048', 'SIGN_VERIFY'], ['RSA_2048', 'ENCRYPT_DECRYPT'], ['HMAC_256', 'GENERATE_VERIFY_MAC'],
      ['ECC_NIST_P256', 'KEY_AGREEMENT']] as const) {
      const keyId = await newKey(spec, usage);
      const status = await shared.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
      expect({ ...status, $metadata: undefined }, spec).toEqual({ $metadata: undefined, KeyRotationEnabled: false, KeyId: expect.stringContaining(`:key/${keyId}`) });
    }
  });
});

describe('grant and alias lookups', () => {
  it('ListGrants refuses a GrantId filter that cannot be a grant id (InvalidGrantIdException)', async () => {
    const keyId = await newKey();
    expect(await failure(shared.kms.send(new ListGrantsCommand({ KeyId: keyId, GrantId: 'zzz' }))))
      .toEqual({ name: 'InvalidGrantIdException', status: 400, message: 'The grant ID is not valid.' });
    expect((await shared.kms.send(new ListGrantsCommand({ KeyId: keyId, GrantId: 'a'.repeat(64) }))).Grants).toEqual([]);
  });

  it("DeleteAlias and UpdateAlias of a missing alias answer Alias '<alias ARN>' is not found.", async () => {
    const missing = "Alias 'arn:aws:kms:us-east-1:111122223333:alias/never-made' is not found.";
    expect(await failure(shared.kms.send(new DeleteAliasCommand({ AliasName: 'alias/never-made' }))))
      .toEqual({ name: 'NotFoundException', status: 404, message: missing });
    expect(await failure(shared.kms.send(new UpdateAliasCommand({ AliasName: 'alias/never-made', TargetKeyId: await newKey() }))))
      .toEqual({ name: 'NotFoundException', status: 404, message: missing });
  });
});

describe('rotation of a key awaiting imported material', () => {
  it('is refused for its origin (UnsupportedOperationException), not its state', async () => {
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    expect(KeyMetadata!.KeyState).toBe('PendingImport');
    expect(await failure(shared.kms.send(new EnableKeyRotationCommand({ KeyId: KeyMetadata!.KeyId! }))))
      .toMatchObject({ name: 'UnsupportedOperationException' });
  });
});
