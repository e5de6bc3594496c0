// Symmetric keys end to end: the real server on loopback, driven by the real AWS SDK for JavaScript v3.
import {
  CancelKeyDeletionCommand, CreateAliasCommand, CreateKeyCommand, DecryptCommand, DeleteAliasCommand,
  DescribeKeyCommand, DisableKeyCommand, DisableKeyRotationCommand, EnableKeyCommand, EnableKeyRotationCommand,
  EncryptCommand, GenerateDataKeyCommand, GenerateDataKeyWithoutPlaintextCommand, GenerateRandomCommand,
  GetKeyRotationStatusCommand, ListAliasesCommand, ListKeyRotationsCommand, ListKeysCommand,
  ListResourceTagsCommand, ReEncryptCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, TagResourceCommand,
  UntagResourceCommand, UpdateAliasCommand, UpdateKeyDescriptionCommand, GetKeyPolicyCommand, ListKeyPoliciesCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { failure } from '../support/sdk-errors.js';
import { serverForFile } from '../support/file-server.js';

const shared = serverForFile();

async function newKey(description = ''): Promise<{ keyId: string; arn: string }> {
  const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({ Description: description }));
  return { keyId: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! };
}

const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes!).toString('utf8');

describe('CreateKey and DescribeKey', () => {
  it('creates an enabled SYMMETRIC_DEFAULT key with AWS metadata', async () => {
    const { KeyMetadata } = await shared.kms.send(new CreateKeyCommand({ Description: 'first', Tags: [{ TagKey: 'team', TagValue: 'a' }] }));
    expect(KeyMetadata).toMatchObject({
      AWSAccountId: '111122223333', Enabled: true, Description: 'first', KeyUsage: 'ENCRYPT_DECRYPT', KeyState: 'Enabled',
      Origin: 'AWS_KMS', KeyManager: 'CUSTOMER', KeySpec: 'SYMMETRIC_DEFAULT', CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'], MultiRegion: false,
    });
    expect(KeyMetadata!.KeyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(KeyMetadata!.Arn).toBe(`arn:aws:kms:us-east-1:111122223333:key/${KeyMetadata!.KeyId}`);
    expect(KeyMetadata!.CreationDate).toBeInstanceOf(Date);
    expect(KeyMetadata!.CurrentKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    const described = await shared.kms.send(new DescribeKeyCommand({ KeyId: KeyMetadata!.Arn }));
    expect(described.KeyMetadata).toEqual(KeyMetadata);
    const tags = await shared.kms.send(new ListResourceTagsCommand({ KeyId: KeyMetadata!.KeyId }));
    expect(tags.Tags).toEqual([{ TagKey: 'team', TagValue: 'a' }]);
  });

  it('rejects asymmetric specs without KeyUsage and unknown keys', async () => {
    expect(await failure(shared.kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048' })))).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(await failure(shared.kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'ENCRYPT_DECRYPT' }))))
      .toMatchObject({ name: 'ValidationException' });
    const missing = await failure(shared.kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' })));
    expect(missing).toMatchObject({ name: 'NotFoundException', status: 404 });
    expect(missing.message).toContain('arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000');
    expect(await failure(shared.kms.send(new DescribeKeyCommand({ KeyId: 'arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-4000-8000-000000000000' }))))
      .toMatchObject({ name: 'NotFoundException' });
    expect(await failure(shared.kms.send(new CreateKeyCommand({ Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] })))).toMatchObject({ name: 'TagException' });
  });

  it('returns the default key policy', async () => {
    const { keyId } = await newKey();
    const { Policy, PolicyName } = await shared.kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }));
    expect(PolicyName).toBe('default');
    expect(JSON.parse(Policy!)).toEqual({
      Version: '2012-10-17', Id: 'key-default-1', Statement: [{
        Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' },
        Action: 'kms:*', Resource: '*',
      }],
    });
    expect((await shared.kms.send(new ListKeyPoliciesCommand({ KeyId: keyId }))).PolicyNames).toEqual(['default']);
  });
});

describe('ListKeys', () => {
  it('pages through every key with Limit and Marker', async () => {
    const created = new Set<string>();
    for (let i = 0; i < 5; i++) created.add((await newKey()).keyId);
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await shared.kms.send(new ListKeysCommand({ Limit: 2, Marker: marker }));
      expect(page.Keys!.length).toBeLessThanOrEqual(2);
      for (const key of page.Keys!) {
        expect(key.KeyArn).toBe(`arn:aws:kms:us-east-1:111122223333:key/${key.KeyId}`);
        seen.push(key.KeyId!);
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker !== undefined);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of created) expect(seen).toContain(id);
    expect(await failure(shared.kms.send(new ListKeysCommand({ Marker: 'not-a-marker' })))).toMatchObject({ name: 'InvalidMarkerException' });
  });
});

describe('Encrypt, Decrypt, ReEncrypt', () => {
  it('round-trips with an encryption context, by key id, ARN, alias and alias ARN', async () => {
    const { keyId, arn } = await newKey();
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/round-trip', TargetKeyId: keyId }));
    for (const id of [keyId, arn, 'alias/round-trip', 'arn:aws:kms:us-east-1:111122223333:alias/round-trip']) {
      const encrypted = await shared.kms.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('hello'), EncryptionContext: { a: 'b', c: 'd' } }));
      expect(encrypted.KeyId).toBe(arn);
      expect(encrypted.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      const decrypted = await shared.kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: { c: 'd', a: 'b' } }));
      expect(text(decrypted.Plaintext)).toBe('hello');
      expect(decrypted.KeyId).toBe(arn);
      expect(decrypted.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('treats the encryption context as authenticated data', async () => {
    const { keyId } = await newKey();
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), EncryptionContext: { a: 'b' } }));
    for (const context of [undefined, {}, { a: 'B' }, { a: 'b', extra: '1' }, { A: 'b' }] as Array<Record<string, string> | undefined>) {
      expect(await failure(shared.kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }))))
        .toMatchObject({ name: 'InvalidCiphertextException', status: 400 });
    }
    const tampered = Buffer.from(CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    expect(await failure(shared.kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { a: 'b' } }))))
      .toMatchObject({ name: 'InvalidCiphertextException' });
    expect(await failure(shared.kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('garbage') }))))
      .toMatchObject({ name: 'InvalidCiphertextException' });
  });

  it('answers IncorrectKeyException when Decrypt names another key', async () => {
    const a = await newKey();
    const b = await newKey();
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: Buffer.from('x') }));
    expect(await failure(shared.kms.send(new DecryptCommand({ CiphertextBlob, KeyId: b.keyId }))))
      .toMatchObject({ name: 'IncorrectKeyException', status: 400 });
    const ok = await shared.kms.send(new DecryptCommand({ CiphertextBlob, KeyId: a.arn }));
    expect(text(ok.Plaintext)).toBe('x');
  });

  it('enforces plaintext limits from the model', async () => {
    const { keyId } = await newKey();
    const max = await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(4096, 7) }));
    expect(max.CiphertextBlob!.length).toBeLessThanOrEqual(6144);
    const tooBig = await failure(shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(4097) })));
    expect(tooBig).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(tooBig.message).toBe("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096");
  });

  it('re-encrypts under another key and context without exposing plaintext', async () => {
    const a = await newKey();
    const b = await newKey();
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: Buffer.from('move me'), EncryptionContext: { k: 'v' } }));
    const moved = await shared.kms.send(new ReEncryptCommand({
      CiphertextBlob, SourceEncryptionContext: { k: 'v' }, DestinationKeyId: b.keyId, DestinationEncryptionContext: { n: 'w' },
    }));
    expect(moved).toMatchObject({ SourceKeyId: a.arn, KeyId: b.arn, SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const back = await shared.kms.send(new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob, EncryptionContext: { n: 'w' } }));
    expect(text(back.Plaintext)).toBe('move me');
    expect(back.KeyId).toBe(b.arn);
    expect(await failure(shared.kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: b.keyId }))))
      .toMatchObject({ name: 'InvalidCiphertextException' });
  });
});

describe('data keys and randomness', () => {
  it('GenerateDataKey returns a key whose ciphertext decrypts to it', async () => {
    const { keyId, arn } = await newKey();
    const dataKey = await shared.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { p: 'q' } }));
    expect(dataKey.Plaintext!.length).toBe(32);
    expect(dataKey.KeyId).toBe(arn);
    const opened = await shared.kms.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob, EncryptionContext: { p: 'q' } }));
    expect(Buffer.from(opened.Plaintext!)).toEqual(Buffer.from(dataKey.Plaintext!));
    const small = await shared.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 7 }));
    expect(small.Plaintext!.length).toBe(7);
    const sixteen = await shared.kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_128' }));
    expect((sixteen as { Plaintext?: Uint8Array }).Plaintext).toBeUndefined();
    expect((await shared.kms.send(new DecryptCommand({ CiphertextBlob: sixteen.CiphertextBlob }))).Plaintext!.length).toBe(16);
  });

  it('requires exactly one of KeySpec and NumberOfBytes', async () => {
    const { keyId } = await newKey();
    expect(await failure(shared.kms.send(new GenerateDataKeyCommand({ KeyId: keyId })))).toMatchObject({ name: 'ValidationException' });
    expect(await failure(shared.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', NumberOfBytes: 32 }))))
      .toMatchObject({ name: 'ValidationException' });
    expect(await failure(shared.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 1025 }))))
      .toMatchObject({ name: 'ValidationException' });
  });

  it('GenerateRandom returns the bytes asked for, 1..1024', async () => {
    const a = await shared.kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    const b = await shared.kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
    expect(a.Plaintext!.length).toBe(64);
    expect(Buffer.from(a.Plaintext!)).not.toEqual(Buffer.from(b.Plaintext!));
    expect(await failure(shared.kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })))).toMatchObject({ name: 'ValidationException' });
    expect(await failure(shared.kms.send(new GenerateRandomCommand({})))).toMatchObject({ name: 'ValidationException' });
  });
});

describe('key states', () => {
  it('disable blocks crypto with DisabledException; enable restores it', async () => {
    const { keyId, arn } = await newKey();
    const { CiphertextBlob } = await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
    await shared.kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    const disabled = await failure(shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
    expect(disabled).toMatchObject({ name: 'DisabledException', status: 409, message: `${arn} is disabled.` });
    expect(await failure(shared.kms.send(new DecryptCommand({ CiphertextBlob })))).toMatchObject({ name: 'DisabledException' });
    await shared.kms.send(new EnableKeyCommand({ KeyId: keyId }));
    expect(text((await shared.kms.send(new DecryptCommand({ CiphertextBlob }))).Plaintext)).toBe('x');
  });

  it('schedules deletion 7..30 days out, and cancelling leaves the key Disabled', async () => {
    const { keyId, arn } = await newKey();
    expect(await failure(shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 6 }))))
      .toMatchObject({ name: 'ValidationException' });
    const before = Date.now() / 1000;
    const scheduled = await shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect(scheduled).toMatchObject({ KeyId: arn, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    const deletionDate = scheduled.DeletionDate!.getTime() / 1000;
    expect(deletionDate).toBeGreaterThanOrEqual(before + 7 * 86400 - 2);
    expect(deletionDate).toBeLessThanOrEqual(before + 7 * 86400 + 2);
    const pending = await failure(shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })));
    expect(pending).toMatchObject({ name: 'KMSInvalidStateException', status: 409, message: `${arn} is pending deletion.` });
    expect(await failure(shared.kms.send(new EnableKeyCommand({ KeyId: keyId })))).toMatchObject({ name: 'KMSInvalidStateException' });
    expect(await failure(shared.kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] }))))
      .toMatchObject({ name: 'KMSInvalidStateException' });
    const described = (await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(described).toMatchObject({ KeyState: 'PendingDeletion', Enabled: false });
    expect(described.DeletionDate).toBeInstanceOf(Date);
    expect((await shared.kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }))).KeyId).toBe(arn);
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    expect(await failure(shared.kms.send(new CancelKeyDeletionCommand({ KeyId: keyId })))).toMatchObject({ name: 'KMSInvalidStateException' });
  });

  it('management operations take key ids and ARNs, not aliases', async () => {
    const { keyId } = await newKey();
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/no-management', TargetKeyId: keyId }));
    expect(await failure(shared.kms.send(new DisableKeyCommand({ KeyId: 'alias/no-management' })))).toMatchObject({ name: 'NotFoundException' });
  });
});

describe('aliases, tags and descriptions', () => {
  it('creates, lists, updates and deletes aliases', async () => {
    const a = await newKey();
    const b = await newKey();
    await shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/app/one', TargetKeyId: a.keyId }));
    const exists = await failure(shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/app/one', TargetKeyId: b.keyId })));
    expect(exists).toMatchObject({ name: 'AlreadyExistsException', status: 409 });
    expect(await failure(shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: a.keyId }))))
      .toMatchObject({ name: 'NotAuthorizedException' });
    expect(await failure(shared.kms.send(new CreateAliasCommand({ AliasName: 'nope', TargetKeyId: a.keyId }))))
      .toMatchObject({ name: 'ValidationException' });
    expect(await failure(shared.kms.send(new CreateAliasCommand({ AliasName: 'alias/x2', TargetKeyId: 'alias/app/one' }))))
      .toMatchObject({ name: 'ValidationException' });
    const listed = await shared.kms.send(new ListAliasesCommand({ KeyId: a.keyId }));
    expect(listed.Aliases).toEqual([expect.objectContaining({
      AliasName: 'alias/app/one', AliasArn: 'arn:aws:kms:us-east-1:111122223333:alias/app/one', TargetKeyId: a.keyId,
    })]);
    await shared.kms.send(new UpdateAliasCommand({ AliasName: 'alias/app/one', TargetKeyId: b.keyId }));
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: 'alias/app/one' }))).KeyMetadata!.KeyId).toBe(b.keyId);
    await shared.kms.send(new DeleteAliasCommand({ AliasName: 'alias/app/one' }));
    expect(await failure(shared.kms.send(new DescribeKeyCommand({ KeyId: 'alias/app/one' })))).toMatchObject({ name: 'NotFoundException' });
    expect(await failure(shared.kms.send(new DeleteAliasCommand({ AliasName: 'alias/app/one' })))).toMatchObject({ name: 'NotFoundException' });
    expect(await failure(shared.kms.send(new DeleteAliasCommand({ AliasName: 'nope' })))).toMatchObject({ name: 'ValidationException' });
  });

  it('caps a ListAliases page at 100 whatever Limit asks for, and pages on with the marker', async () => {
    const keys = [await newKey(), await newKey(), await newKey()];
    const names = Array.from({ length: 105 }, (_, i) => `alias/cap/${String(i).padStart(3, '0')}`);
    await Promise.all(names.map((name, i) => shared.kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keys[i % 3]!.keyId }))));
    const first = await shared.kms.send(new ListAliasesCommand({ Limit: 500 }));
    expect(first.Aliases).toHaveLength(100);
    expect(first.Truncated).toBe(true);
    const seen = new Set(first.Aliases!.map((alias) => alias.AliasName));
    for (let marker = first.NextMarker; marker !== undefined;) {
      const next = await shared.kms.send(new ListAliasesCommand({ Limit: 500, Marker: marker }));
      next.Aliases!.forEach((alias) => seen.add(alias.AliasName));
      marker = next.Truncated ? next.NextMarker : undefined;
    }
    expect(names.every((name) => seen.has(name))).toBe(true);
  });

  it('tags upsert, untag ignores unknown keys, and reserved keys are refused', async () => {
    const { keyId } = await newKey();
    await shared.kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'a', TagValue: '1' }, { TagKey: 'b', TagValue: '' }] }));
    await shared.kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'a', TagValue: '2' }] }));
    await shared.kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['b', 'never-there'] }));
    expect((await shared.kms.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toEqual([{ TagKey: 'a', TagValue: '2' }]);
    expect(await failure(shared.kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'aws:reserved', TagValue: 'x' }] }))))
      .toMatchObject({ name: 'TagException' });
    await shared.kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'new words' }));
    expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.Description).toBe('new words');
  });
});

describe('rotation', () => {
  it('rotates on demand; every older material keeps decrypting', async () => {
    const { keyId, arn } = await newKey();
    const old = await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }));
    const firstMaterial = (await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId;
    expect((await shared.kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }))).KeyId).toBe(arn);
    const secondMaterial = (await shared.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.CurrentKeyMaterialId;
    expect(secondMaterial).not.toBe(firstMaterial);
    const fresh = await shared.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after') }));
    const openedOld = await shared.kms.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob }));
    expect(text(openedOld.Plaintext)).toBe('before');
    expect(openedOld.KeyMaterialId).toBe(firstMaterial);
    expect((await shared.kms.send(new DecryptCommand({ CiphertextBlob: fresh.CiphertextBlob }))).KeyMaterialId).toBe(secondMaterial);
    const rotations = await shared.kms.send(new ListKeyRotationsCommand({ KeyId: keyId }));
    expect(rotations.Rotations).toEqual([expect.objectContaining({ KeyId: arn, KeyMaterialId: secondMaterial, RotationType: 'ON_DEMAND' })]);
  });

  it('enables and disables automatic rotation with a period of 90..2560 days', async () => {
    const { keyId, arn } = await newKey();
    expect((await shared.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled).toBe(false);
    expect(await failure(shared.kms.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 89 }))))
      .toMatchObject({ name: 'ValidationException' });
    await shared.kms.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    const status = await shared.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    expect(status).toMatchObject({ KeyRotationEnabled: true, KeyId: arn, RotationPeriodInDays: 90 });
    const next = status.NextRotationDate!.getTime() / 1000;
    expect(Math.abs(next - (Date.now() / 1000 + 90 * 86400))).toBeLessThan(5);
    await shared.kms.send(new DisableKeyRotationCommand({ KeyId: keyId }));
    expect((await shared.kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled).toBe(false);
    await shared.kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect(await failure(shared.kms.send(new EnableKeyRotationCommand({ KeyId: keyId })))).toMatchObject({ name: 'DisabledException' });
  });
});
